import Foundation
import Testing

@testable import FilterCore

@Suite struct MIMEInspectionTests {
    @Test func rendersPrettySortedJSON() {
        let message = MIMEMessage(crlf: """
            From: =?utf-8?q?J=C3=B6rg?= <j@example.org>
            Subject: Hi
            Content-Type: multipart/mixed; boundary=b

            --b
            Content-Type: text/plain; charset=utf-8

            hello
            --b
            Content-Type: application/pdf
            Content-Disposition: attachment; filename=a.pdf
            Content-Transfer-Encoding: base64

            JVBERg==
            --b--
            """)
        #expect(MIMEInspection(message).json() == """
            {
              "attachments" : [
                "2"
              ],
              "cc" : [

              ],
              "defects" : [

              ],
              "from" : [
                {
                  "address" : "j@example.org",
                  "displayName" : "Jörg"
                }
              ],
              "headers" : [
                {
                  "name" : "From",
                  "raw" : "=?utf-8?q?J=C3=B6rg?= <j@example.org>",
                  "value" : "Jörg <j@example.org>"
                },
                {
                  "name" : "Subject",
                  "value" : "Hi"
                },
                {
                  "name" : "Content-Type",
                  "value" : "multipart/mixed; boundary=b"
                }
              ],
              "replyTo" : [

              ],
              "size" : \(message.size),
              "structure" : {
                "children" : [
                  {
                    "charset" : "utf-8",
                    "contentType" : "text/plain",
                    "decodedSize" : 5,
                    "headers" : [
                      {
                        "name" : "Content-Type",
                        "value" : "text/plain; charset=utf-8"
                      }
                    ],
                    "isAttachment" : false,
                    "path" : "1"
                  },
                  {
                    "contentType" : "application/pdf",
                    "decodedSize" : 4,
                    "disposition" : "attachment",
                    "filename" : "a.pdf",
                    "headers" : [
                      {
                        "name" : "Content-Type",
                        "value" : "application/pdf"
                      },
                      {
                        "name" : "Content-Disposition",
                        "value" : "attachment; filename=a.pdf"
                      },
                      {
                        "name" : "Content-Transfer-Encoding",
                        "value" : "base64"
                      }
                    ],
                    "isAttachment" : true,
                    "path" : "2",
                    "transferEncoding" : "base64"
                  }
                ],
                "contentType" : "multipart/mixed",
                "decodedSize" : \(message.root.decodedSize),
                "isAttachment" : false,
                "path" : ""
              },
              "subject" : "Hi",
              "textBody" : "hello",
              "to" : [

              ]
            }
            """)
    }

    @Test func roundTripsWithDefects() throws {
        let message = try MIMEFixtures.message("broken-encodings.eml")
        let inspection = MIMEInspection(message)
        let decoded = try JSONDecoder().decode(MIMEInspection.self, from: Data(inspection.json().utf8))
        #expect(decoded == inspection)
        #expect(decoded.defects.map(\.code) == [
            "invalid-base64", "invalid-base64", "invalid-quoted-printable", "unknown-charset",
            "charset-mismatch", "unknown-transfer-encoding", "invalid-content-type",
        ])
        #expect(decoded.structure.children?.map(\.decodedSize) == [13, 27, 5, 10, 6, 16])
    }
}
