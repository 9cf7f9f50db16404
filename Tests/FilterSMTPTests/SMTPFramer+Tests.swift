import FilterSMTP
import NIOCore
import Testing

/// A content probe from the SMTP smuggling class (CVE-2023-51764 and relatives): a line end
/// other than CRLF around a dot. None of them may end the content.
struct SmugglingProbe: Sendable, CustomTestStringConvertible {
    let probe: String
    /// The content the framer must yield for `"before" + probe + "MAIL FROM:<evil@x.example>\r\n"`
    /// followed by `"after\r\n"`.
    let expectedContent: String

    var testDescription: String { probe.debugDescription }
}

@Suite("SMTPFramer")
struct SMTPFramerTests {
    /// A whole pipelined session: commands, content full of edge cases, an empty message, QUIT.
    static let transcript = Array(
        (
            "EHLO client.example\r\n"
                + "MAIL FROM:<a@x.example>\r\n"
                + "RCPT TO:<b@y.example>\r\n"
                + "DATA\r\n"
                + "Subject: probes\r\n"
                + "\r\n"
                + "..leading dot\r\n"
                + "..\r\n"
                + ".\r\r\n"
                + "a\n.\nb\r\n"
                + "c\r.\rd\r\n"
                + "e\n.\r\nf\r\n"
                + "g\r\n.\nh\r\n"
                + "i\r\n.\rj\r\n"
                + "k\r.\r\nl\r\n"
                + ". \r\n"
                + "\r\n"
                + ".\r\n"
                + "RSET\r\n"
                + "MAIL FROM:<>\r\n"
                + "RCPT TO:<c@y.example>\r\n"
                + "DATA\r\n"
                + ".\r\n"
                + "QUIT\r\n"
        ).utf8)

    static let expectedContent = Array(
        (
            "Subject: probes\r\n"
                + "\r\n"
                + ".leading dot\r\n"
                + ".\r\n"
                + "\r\r\n"
                + "a\n.\nb\r\n"
                + "c\r.\rd\r\n"
                + "e\n.\r\nf\r\n"
                + "g\r\n\nh\r\n"
                + "i\r\n\rj\r\n"
                + "k\r.\r\nl\r\n"
                + " \r\n"
                + "\r\n"
        ).utf8)

    static let expectedEvents: [FramedEvent] = [
        .command("EHLO client.example"),
        .command("MAIL FROM:<a@x.example>"),
        .command("RCPT TO:<b@y.example>"),
        .command("DATA"),
        .content(expectedContent),
        .endOfContent,
        .command("RSET"),
        .command("MAIL FROM:<>"),
        .command("RCPT TO:<c@y.example>"),
        .command("DATA"),
        .endOfContent,
        .command("QUIT"),
    ]

    @Test("the whole transcript in one piece")
    func wholeTranscript() {
        #expect(FramerDriver.events([Self.transcript]) == Self.expectedEvents)
    }

    @Test("the transcript split in two at every byte boundary frames the same")
    func everySplitPoint() {
        let bytes = Self.transcript
        for split in 0...bytes.count {
            let events = FramerDriver.events([Array(bytes[..<split]), Array(bytes[split...])])
            #expect(events == Self.expectedEvents, "split at \(split)")
            if events != Self.expectedEvents { return }
        }
    }

    @Test("the transcript byte by byte frames the same")
    func byteByByte() {
        #expect(FramerDriver.events(Self.transcript.map { [$0] }) == Self.expectedEvents)
    }

    @Test("the transcript in random chunkings frames the same")
    func randomChunks() {
        var generator = SplitMix64(seed: 0x5EED)
        for round in 0..<200 {
            var chunks: [[UInt8]] = []
            var rest = Self.transcript[...]
            while !rest.isEmpty {
                let length = Int(generator.next() % 9) + 1
                chunks.append(Array(rest.prefix(length)))
                rest = rest.dropFirst(length)
            }
            #expect(FramerDriver.events(chunks) == Self.expectedEvents, "round \(round)")
        }
    }

    static let probes: [SmugglingProbe] = [
        SmugglingProbe(probe: "\n.\n", expectedContent: "before\n.\nMAIL FROM:<evil@x.example>\r\nafter\r\n"),
        SmugglingProbe(probe: "\r.\r", expectedContent: "before\r.\rMAIL FROM:<evil@x.example>\r\nafter\r\n"),
        SmugglingProbe(probe: "\n.\r\n", expectedContent: "before\n.\r\nMAIL FROM:<evil@x.example>\r\nafter\r\n"),
        // A dot at the start of a line (after CRLF) with more on the line is stuffing: dropped.
        SmugglingProbe(probe: "\r\n.\n", expectedContent: "before\r\n\nMAIL FROM:<evil@x.example>\r\nafter\r\n"),
        SmugglingProbe(probe: "\r\n.\r", expectedContent: "before\r\n\rMAIL FROM:<evil@x.example>\r\nafter\r\n"),
        SmugglingProbe(probe: "\r.\r\n", expectedContent: "before\r.\r\nMAIL FROM:<evil@x.example>\r\nafter\r\n"),
    ]

    @Test("smuggling probes inside content do not end it", arguments: probes)
    func smugglingProbe(_ probe: SmugglingProbe) {
        let input = Array(
            ("DATA\r\nbefore" + probe.probe + "MAIL FROM:<evil@x.example>\r\nafter\r\n.\r\nNOOP\r\n").utf8)
        let expected: [FramedEvent] = [
            .command("DATA"), .content(Array(probe.expectedContent.utf8)), .endOfContent, .command("NOOP"),
        ]
        #expect(FramerDriver.events([input]) == expected)
        #expect(FramerDriver.events(input.map { [$0] }) == expected)
        for split in 0...input.count {
            #expect(FramerDriver.events([Array(input[..<split]), Array(input[split...])]) == expected, "split at \(split)")
        }
    }

    @Test("smuggling probes right at the end of the content do not end it", arguments: probes)
    func smugglingProbeBeforeEnd(_ probe: SmugglingProbe) {
        // The probe is the last thing before the real end: the content ends only at CRLF.CRLF.
        let input = Array(("DATA\r\nx" + probe.probe + "\r\n.\r\nNOOP\r\n").utf8)
        let events = FramerDriver.events(input.map { [$0] })
        #expect(events.count == 4)
        #expect(events.first == .command("DATA"))
        #expect(events.suffix(2) == [.endOfContent, .command("NOOP")])
        #expect(FramerDriver.events([input]) == events)
    }

    @Test("an empty message: the end right after DATA")
    func emptyMessage() {
        let input = Array("DATA\r\n.\r\nQUIT\r\n".utf8)
        #expect(FramerDriver.events([input]) == [.command("DATA"), .endOfContent, .command("QUIT")])
        #expect(FramerDriver.events(input.map { [$0] }) == [.command("DATA"), .endOfContent, .command("QUIT")])
    }

    @Test("a dot line with text right after DATA is un-stuffed")
    func dotAtContentStart() {
        let input = Array("DATA\r\n..x\r\n.y\r\n.\r\n".utf8)
        #expect(FramerDriver.events([input]) == [.command("DATA"), .content(Array(".x\r\ny\r\n".utf8)), .endOfContent])
    }

    @Test("the content ends only once CRLF.CRLF is complete")
    func endOnlyAtFullTerminator() {
        var driver = FramerDriver()
        driver.feed("DATA\r\nline\r\n".utf8)
        driver.feed(".".utf8)
        driver.feed("\r".utf8)
        #expect(driver.framer.isReadingContent)
        #expect(!driver.events.contains(.endOfContent))
        driver.feed("\n".utf8)
        #expect(!driver.framer.isReadingContent)
        #expect(driver.events == [.command("DATA"), .content(Array("line\r\n".utf8)), .endOfContent])
    }

    @Test("the content is not ended by end of input")
    func unterminatedContent() {
        let events = FramerDriver.events([Array("DATA\r\nno end\r\n.\r".utf8)])
        #expect(events == [.command("DATA"), .content(Array("no end\r\n".utf8))])
    }

    @Test("a bare LF ends no command: the line is reported and dropped")
    func bareLineFeedInCommand() {
        let input = Array("NOOP\nRSET\r\nDATA\nnot content\r\n".utf8)
        let expected: [FramedEvent] = [.bareLineFeed, .command("RSET"), .bareLineFeed, .command("not content")]
        #expect(FramerDriver.events([input]) == expected)
        #expect(FramerDriver.events(input.map { [$0] }) == expected)
    }

    @Test("a partial command line waits for its CRLF")
    func partialCommand() {
        var driver = FramerDriver()
        driver.feed("NOOP".utf8)
        #expect(driver.events.isEmpty)
        #expect(driver.framer.bufferedByteCount == 4)
        driver.feed("\r".utf8)
        #expect(driver.events.isEmpty)
        driver.feed("\n".utf8)
        #expect(driver.events == [.command("NOOP")])
        #expect(driver.framer.bufferedByteCount == 0)
    }

    @Test("an over-long command line is reported once and discarded; the next line is fine")
    func overLongCommandLine() {
        let input = Array(("NOOP " + String(repeating: "x", count: 200) + "\r\nNOOP\r\n").utf8)
        let expected: [FramedEvent] = [.commandLineTooLong, .command("NOOP")]
        #expect(FramerDriver.events([input], maximumCommandLineLength: 32) == expected)
        #expect(FramerDriver.events(input.map { [$0] }, maximumCommandLineLength: 32) == expected)
        for split in 0...input.count {
            let events = FramerDriver.events([Array(input[..<split]), Array(input[split...])], maximumCommandLineLength: 32)
            #expect(events == expected, "split at \(split)")
        }
    }

    @Test("the command line limit counts the CRLF")
    func commandLineLimitBoundary() {
        // 14 octets of text + CRLF = 16.
        let fits = Array("NOOP 012345678\r\n".utf8)
        let tooLong = Array("NOOP 0123456789\r\n".utf8)
        #expect(FramerDriver.events([fits], maximumCommandLineLength: 16) == [.command("NOOP 012345678")])
        #expect(FramerDriver.events(fits.map { [$0] }, maximumCommandLineLength: 16) == [.command("NOOP 012345678")])
        #expect(FramerDriver.events([tooLong], maximumCommandLineLength: 16) == [.commandLineTooLong])
        #expect(FramerDriver.events(tooLong.map { [$0] }, maximumCommandLineLength: 16) == [.commandLineTooLong])
    }

    @Test("an endless command line never buffers more than the limit")
    func endlessCommandLine() {
        var driver = FramerDriver(maximumCommandLineLength: 4096)
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 1000)
        for _ in 0..<1024 {
            driver.feed(chunk)
            #expect(driver.framer.bufferedByteCount < 4096 + chunk.count)
        }
        driver.feed("\r\nNOOP\r\n".utf8)
        #expect(driver.events == [.commandLineTooLong, .command("NOOP")])
        #expect(driver.largestBufferedByteCount < 4096)
    }

    @Test("many pipelined commands in misaligned reads keep the storage small")
    func pipelinedCommandsStayBounded() {
        var framer = SMTPFramer()
        // Every read ends in the middle of a line, so the buffer never runs empty.
        framer.append(ByteBuffer(string: "NOOP"))
        var largestStorage = 0
        var count = 0
        for _ in 0..<200_000 {
            framer.append(ByteBuffer(string: "\r\nNOOP"))
            while let frame = framer.nextFrame() {
                guard case .commandLine(let line) = frame else {
                    Issue.record("unexpected \(frame)")
                    return
                }
                count += 1
                largestStorage = max(largestStorage, line.storageCapacity)
            }
        }
        #expect(count == 200_000)
        // Without reclaiming consumed lines the storage would grow to the whole input (1.2 MB).
        #expect(largestStorage < 4096)
    }

    @Test("megabytes of content pass through with nothing buffered")
    func largeContent() {
        var framer = SMTPFramer()
        let plain = Array(String(repeating: "0123456789", count: 10).utf8) + [13, 10]
        let dotted = [UInt8(ascii: ".")] + plain
        var content: [UInt8] = []
        var expected: [UInt8] = []
        for index in 0..<42_000 {
            if index % 10 == 0 {
                content += [UInt8(ascii: ".")] + dotted
                expected += dotted
            } else {
                content += plain
                expected += plain
            }
        }
        let input = Array("DATA\r\n".utf8) + content + Array(".\r\nQUIT\r\n".utf8)
        #expect(input.count > 4 * 1024 * 1024)
        var received = ByteBuffer()
        var commands: [String] = []
        var ended = false
        var largestBuffered = 0
        var offset = 0
        while offset < input.count {
            let end = min(offset + 65_536 + 3, input.count)
            framer.append(ByteBuffer(bytes: input[offset..<end]))
            offset = end
            while let frame = framer.nextFrame() {
                switch frame {
                case .commandLine(let line):
                    commands.append(String(buffer: line))
                    if commands.last == "DATA" { framer.beginData() }
                case .content(var piece):
                    received.writeBuffer(&piece)
                case .endOfContent:
                    ended = true
                case .commandLineTooLong, .bareLineFeedInCommand:
                    Issue.record("unexpected \(frame)")
                }
            }
            largestBuffered = max(largestBuffered, framer.bufferedByteCount)
        }
        #expect(ended)
        #expect(commands == ["DATA", "QUIT"])
        #expect(Array(received.readableBytesView) == expected)
        #expect(largestBuffered < 16)
    }
}
