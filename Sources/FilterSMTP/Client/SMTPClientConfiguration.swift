import NIOCore

/// The configuration of the SMTP client that reinjects filtered mail into the next hop
/// (normally Postfix's second `smtpd` on `127.0.0.1:10025`, see Postfix FILTER_README).
///
/// Timeouts follow RFC 5321 §4.5.3.2, which asks for at least 5 minutes for most replies and
/// 10 minutes for the reply to the final dot: the next hop may be busy with its own filters.
public struct SMTPClientConfiguration: Sendable {
    /// The next hop's address. Default `127.0.0.1`.
    public var host: String
    /// The next hop's port. Default 10025 (Postfix FILTER_README).
    public var port: Int
    /// The name sent with `EHLO`/`HELO`; it must not be the next hop's own `$myhostname`, or
    /// Postfix's loop check refuses the mail.
    public var heloName: String
    /// How long to wait for the TCP connection. Default 30 s.
    public var connectTimeout: TimeAmount
    /// How long to wait for the greeting and for the reply to each command (EHLO, XFORWARD,
    /// MAIL, RCPT, DATA, RSET, QUIT). Default 300 s (RFC 5321 §4.5.3.2.1 to .2.4).
    public var commandTimeout: TimeAmount
    /// How long one chunk of content may take to be accepted by the socket. Default 180 s
    /// (RFC 5321 §4.5.3.2.5, "Data block").
    public var dataBlockTimeout: TimeAmount
    /// How long to wait for the reply to the final dot. Default 600 s (RFC 5321 §4.5.3.2.6).
    public var dataTerminationTimeout: TimeAmount
    /// Idle connections kept open for later transactions. Default 4; 0 closes every
    /// connection after its transaction.
    public var maximumIdleConnections: Int
    /// How long an idle connection is kept before it is closed instead of reused. Default
    /// 30 s, well below the 300 s after which Postfix's `smtpd` drops a silent client.
    public var maximumIdleTime: TimeAmount
    /// Transactions sent over one connection before it is closed. Default 100.
    public var maximumTransactionsPerConnection: Int
    /// The size of the chunks a message file is read and sent in, in octets. Default 65536.
    public var fileChunkSize: Int
    /// Limits on the replies accepted from the next hop.
    public var replyLimits: SMTPReplyParser.Limits

    /// Creates a configuration with the documented defaults.
    public init(heloName: String, host: String = "127.0.0.1", port: Int = 10025) {
        self.host = host
        self.port = port
        self.heloName = heloName
        self.connectTimeout = .seconds(30)
        self.commandTimeout = .seconds(300)
        self.dataBlockTimeout = .seconds(180)
        self.dataTerminationTimeout = .seconds(600)
        self.maximumIdleConnections = 4
        self.maximumIdleTime = .seconds(30)
        self.maximumTransactionsPerConnection = 100
        self.fileChunkSize = 65536
        self.replyLimits = SMTPReplyParser.Limits()
    }
}
