/// The send API's OpenAPI 3.1 description, served at `GET /api/v1/openapi.yaml`: a copy of
/// docs/openapi/send-api.yaml kept in the binary, so an installed filterd needs no resource
/// files. A test checks that the two are the same.
enum SendAPIOpenAPI {
    /// The document's text.
    static let document = #"""
openapi: 3.1.0
info:
  title: filterd send API
  version: 1.0.0
  summary: Compose a mail message from JSON and submit it to the mail system.
  description: |
    `POST /api/v1/messages` turns a JSON description of a message into a correctly encoded
    RFC 5322 / MIME message (RFC 2047 encoded-words, RFC 2231 file names, quoted-printable
    text, base64 attachments, a new Message-ID and Date) and submits it over SMTP to the
    configured next hop, normally the local Postfix, so it is filtered like any other mail.
    Errors are RFC 9457 problem details. See docs/send-api.md for the decisions behind it.
  license:
    name: Same as filterd
servers:
  - url: http://127.0.0.1:9025
    description: The server console listener (loopback by default)
security:
  - apiKey: []
  - jwt: []
paths:
  /api/v1/messages:
    post:
      operationId: sendMessage
      summary: Compose and submit a message
      description: |
        Checks, in this order: credentials (401), rate limit (429), media type (415), body
        size (413), JSON syntax (400), the message (422), whether the credentials may use the
        From address (403). Then the next hop decides: 201 when it took the message for at
        least one recipient (refused ones are listed), 502 when it refused it for good, 503
        when it cannot be reached or refused it for now.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/MessageRequest'
            example:
              from: { address: joerg@example.com, name: Jörg Müller }
              to: [ anna@example.org ]
              subject: Grüße
              text: Hallo Anna!
              attachments:
                - { filename: Übersicht.pdf, content_type: application/pdf, content: JVBERi0xLjQK }
      responses:
        '201':
          description: The next hop took the message for the recipients in `queued`.
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/SendResult'
        '400':
          $ref: '#/components/responses/Problem'
        '401':
          description: No credentials, or credentials that are not valid.
          headers:
            WWW-Authenticate:
              description: '`Bearer realm="filterd send API"`, with `error="invalid_token"` when a token was given (RFC 6750).'
              schema: { type: string }
          content:
            application/problem+json:
              schema:
                $ref: '#/components/schemas/Problem'
        '403':
          $ref: '#/components/responses/Problem'
        '413':
          $ref: '#/components/responses/Problem'
        '415':
          $ref: '#/components/responses/Problem'
        '422':
          description: The body is JSON but not a valid message; `errors` names every invalid field.
          content:
            application/problem+json:
              schema:
                $ref: '#/components/schemas/Problem'
        '429':
          description: The credentials' rate limit is used up.
          headers:
            Retry-After:
              description: Seconds until the next request is allowed.
              schema: { type: integer, minimum: 1 }
          content:
            application/problem+json:
              schema:
                $ref: '#/components/schemas/Problem'
        '502':
          $ref: '#/components/responses/Problem'
        '503':
          $ref: '#/components/responses/Problem'
  /api/v1/openapi.yaml:
    get:
      operationId: getOpenAPIDocument
      summary: This document
      security: []
      responses:
        '200':
          description: The OpenAPI document.
          content:
            application/yaml:
              schema: { type: string }
components:
  securitySchemes:
    apiKey:
      type: http
      scheme: bearer
      description: |
        A per-user API key, `Authorization: Bearer KEY`. The server stores only the key's
        SHA-256; each key names its owner and the From addresses it may use.
    jwt:
      type: http
      scheme: bearer
      bearerFormat: JWT
      description: |
        A JSON Web Token signed with HS256 under the server's shared secret. `sub` is the
        sender address the token allows, `exp` is required, `nbf` and `iat` are honoured.
        Any other `alg` (including `none`) is refused.
  responses:
    Problem:
      description: An RFC 9457 problem.
      content:
        application/problem+json:
          schema:
            $ref: '#/components/schemas/Problem'
  schemas:
    Address:
      description: An address alone (`local@domain`), or an address with a display name.
      oneOf:
        - type: string
          format: email
        - type: object
          additionalProperties: false
          required: [ address ]
          properties:
            address: { type: string, format: email }
            name:
              type: string
              maxLength: 200
              description: Display name, any Unicode; written as RFC 2047 encoded-words when not ASCII.
    AddressList:
      description: One address or a list of them.
      oneOf:
        - $ref: '#/components/schemas/Address'
        - type: array
          items: { $ref: '#/components/schemas/Address' }
    Attachment:
      type: object
      additionalProperties: false
      required: [ content ]
      properties:
        filename:
          type: string
          maxLength: 255
          description: Shown to the recipient; non-ASCII names are written as RFC 2231 parameters.
        content_type:
          type: string
          default: application/octet-stream
          description: '`type/subtype`; multipart and message types are refused.'
        content:
          type: string
          contentEncoding: base64
          description: The file's bytes in base64 (RFC 4648 §4).
    HeaderField:
      type: object
      additionalProperties: false
      required: [ name, value ]
      properties:
        name:
          type: string
          description: |
            A field name. Refused: From, Sender, To, Cc, Bcc, Reply-To, Subject, Date,
            Message-ID, MIME-Version, Content-*, Resent-*, Received, Return-Path, Delivered-To,
            DKIM/ARC signatures, Authentication-Results and X-Filter-*.
        value:
          type: string
          description: Without CR, LF, NUL or other control characters.
    MessageRequest:
      type: object
      additionalProperties: false
      required: [ from ]
      description: At least one recipient in to, cc or bcc, and a text or an html body.
      properties:
        from:
          $ref: '#/components/schemas/Address'
        to: { $ref: '#/components/schemas/AddressList' }
        cc: { $ref: '#/components/schemas/AddressList' }
        bcc:
          $ref: '#/components/schemas/AddressList'
          description: Envelope recipients only; never written into the header.
        reply_to: { $ref: '#/components/schemas/AddressList' }
        subject: { type: string, maxLength: 900 }
        text: { type: string, description: The text/plain body. }
        html: { type: string, description: The text/html body; with text, both go in multipart/alternative. }
        attachments:
          type: array
          maxItems: 20
          items: { $ref: '#/components/schemas/Attachment' }
        headers:
          type: array
          maxItems: 20
          items: { $ref: '#/components/schemas/HeaderField' }
    RefusedRecipient:
      type: object
      required: [ recipient, reply ]
      properties:
        recipient: { type: string }
        reply: { type: string, description: 'The next hop''s SMTP reply, e.g. `550 5.1.1 User unknown`.' }
    SendResult:
      type: object
      required: [ id, queued ]
      properties:
        id:
          type: string
          description: The Message-ID, with angle brackets.
          examples: [ '<3f2a0c9d8e7b6a5f4e3d2c1b0a998877@mail.example.com>' ]
        queued:
          type: array
          items: { type: string }
          description: The recipients the next hop accepted.
        refused:
          type: array
          items: { $ref: '#/components/schemas/RefusedRecipient' }
          description: The recipients the next hop refused, when some were.
    Problem:
      type: object
      description: RFC 9457 problem details.
      required: [ type, title, status, detail ]
      properties:
        type:
          type: string
          format: uri
          description: A tag URI naming the kind of problem; not meant to be fetched.
          enum:
            - tag:filterd,2026:problems/malformed-request
            - tag:filterd,2026:problems/unauthorized
            - tag:filterd,2026:problems/forbidden-sender
            - tag:filterd,2026:problems/too-large
            - tag:filterd,2026:problems/unsupported-media-type
            - tag:filterd,2026:problems/validation-failed
            - tag:filterd,2026:problems/rate-limited
            - tag:filterd,2026:problems/next-hop-refused
            - tag:filterd,2026:problems/next-hop-unavailable
        title: { type: string }
        status: { type: integer }
        detail: { type: string }
        errors:
          type: array
          description: For validation problems, every invalid field.
          items:
            type: object
            required: [ field, message ]
            properties:
              field: { type: string, description: 'The field''s path, e.g. `to[1]` or `attachments[0].content`.' }
              message: { type: string }
        refused:
          type: array
          description: When the next hop refused every recipient, each with its reply.
          items: { $ref: '#/components/schemas/RefusedRecipient' }

"""#
}
