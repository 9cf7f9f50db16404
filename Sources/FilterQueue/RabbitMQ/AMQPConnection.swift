import Foundation
private import CRabbitMQ

/// The properties of an AMQP message (`basic` class), as Swift values.
package struct AMQPProperties: Sendable, Hashable {
    /// `content_type`.
    package var contentType: String?
    /// `delivery_mode`: 2 is persistent.
    package var deliveryMode: UInt8?
    /// `correlation_id`.
    package var correlationID: String?
    /// `reply_to`.
    package var replyTo: String?
    /// `expiration`, milliseconds as a decimal string.
    package var expiration: String?
    /// `message_id`.
    package var messageID: String?
    /// `timestamp`, seconds since 1970.
    package var timestamp: UInt64?
    /// `type`.
    package var type: String?
    /// `user_id`.
    package var userID: String?
    /// The string-valued headers (others are not carried).
    package var headers: [String: String]

    /// Creates properties; every field is absent unless given.
    package init(
        contentType: String? = nil, deliveryMode: UInt8? = nil, correlationID: String? = nil,
        replyTo: String? = nil, expiration: String? = nil, messageID: String? = nil,
        timestamp: UInt64? = nil, type: String? = nil, userID: String? = nil, headers: [String: String] = [:]
    ) {
        self.contentType = contentType
        self.deliveryMode = deliveryMode
        self.correlationID = correlationID
        self.replyTo = replyTo
        self.expiration = expiration
        self.messageID = messageID
        self.timestamp = timestamp
        self.type = type
        self.userID = userID
        self.headers = headers
    }
}

/// A message to publish.
package struct AMQPOutgoingMessage: Sendable, Hashable {
    /// The exchange.
    package var exchange: String
    /// The routing key.
    package var routingKey: String
    /// Whether an unroutable message comes back (`basic.return`).
    package var mandatory: Bool
    /// Its properties.
    package var properties: AMQPProperties
    /// Its body.
    package var body: [UInt8]

    /// Creates a message.
    package init(exchange: String, routingKey: String, mandatory: Bool, properties: AMQPProperties, body: [UInt8]) {
        self.exchange = exchange
        self.routingKey = routingKey
        self.mandatory = mandatory
        self.properties = properties
        self.body = body
    }
}

/// A message the broker delivered (`basic.deliver`, `basic.get-ok`).
package struct AMQPDelivery: Sendable, Hashable {
    /// The channel it arrived on.
    package var channel: UInt16
    /// The broker's delivery tag on that channel.
    package var deliveryTag: UInt64
    /// Whether it was delivered before.
    package var redelivered: Bool
    /// The exchange it was published to.
    package var exchange: String
    /// The routing key it was published with.
    package var routingKey: String
    /// Its properties.
    package var properties: AMQPProperties
    /// Its body.
    package var body: [UInt8]
}

/// A queue argument value (`x-max-length-bytes`, `x-overflow`, ...).
package enum AMQPArgument: Sendable, Hashable {
    /// A long string (`S`).
    case string(String)
    /// A signed 64-bit integer (`l`).
    case integer(Int64)
}

/// What the frame loop read from a connection.
enum AMQPEvent {
    /// `basic.ack` of a publish (publisher confirms).
    case ack(channel: UInt16, deliveryTag: UInt64, multiple: Bool)
    /// `basic.nack` of a publish.
    case nack(channel: UInt16, deliveryTag: UInt64, multiple: Bool)
    /// `basic.return` of an unroutable mandatory publish, with the returned message.
    case returned(channel: UInt16, replyCode: UInt16, replyText: String, properties: AMQPProperties)
    /// `basic.deliver` to a consumer.
    case delivery(AMQPDelivery)
    /// `basic.cancel` from the broker: the consumer's queue went away.
    case consumerCancelled(channel: UInt16)
    /// `channel.close` from the broker (already answered with `close-ok`).
    case channelClosed(channel: UInt16, error: TransportError)
    /// Any other frame, of no interest to the loop.
    case other
}

/// What a passive queue declare found.
enum AMQPQueueState {
    /// No such queue.
    case missing
    /// The queue, with its consumer count.
    case present(consumers: Int)
}

/// One AMQP 0-9-1 connection through rabbitmq-c 0.11.
///
/// Not thread-safe: rabbitmq-c's connection state is used by one thread at a time, so an
/// instance lives on the frame-loop thread of its ``AMQPWorker`` and nowhere else.
final class AMQPConnection {
    private let state: amqp_connection_state_t
    private var alive = true
    private var openChannels: Set<UInt16> = []
    /// The heartbeat the broker and client agreed on, in seconds (0 = none).
    let heartbeatSeconds: Int
    /// The socket's file descriptor, for `poll`.
    let socketDescriptor: Int32

    /// Opens a TCP or TLS socket to the broker and logs in.
    /// - Throws: ``TransportError`` classifying the failure: unreachable or refused
    ///   (`connectionFailed`), TLS, bad credentials (`authenticationFailed`), no access to the
    ///   virtual host (`accessRefused`).
    init(url: AMQPURL, rpcTimeout: Duration) throws(TransportError) {
        guard let password = url.password else {
            throw TransportError(
                .invalidURL, "no password for the broker user \(url.user): put it in the URL or give it separately")
        }
        guard let state = amqp_new_connection() else {
            throw TransportError(.connectionFailed, "rabbitmq-c could not allocate a connection")
        }
        self.state = state
        do throws(TransportError) {
            let socket = try Self.makeSocket(state: state, url: url)
            var connectTimeout = Self.timeval(url.connectionTimeout)
            var status = amqp_socket_open_noblock(socket, url.host, Int32(url.port), &connectTimeout)
            if status != AMQP_STATUS_OK.rawValue {
                throw Self.connectFailure(status: status, url: url)
            }
            var handshakeTimeout = Self.timeval(url.connectionTimeout)
            amqp_set_handshake_timeout(state, &handshakeTimeout)
            var rpcTimeoutValue = Self.timeval(rpcTimeout)
            amqp_set_rpc_timeout(state, &rpcTimeoutValue)
            let login = filter_amqp_login_plain(
                state, url.virtualHost, Int32(url.channelMax), Int32(url.frameMax), Int32(url.heartbeatSeconds),
                url.user, password)
            try Self.checkLogin(login, url: url)
            status = amqp_get_sockfd(state)
            socketDescriptor = status
            heartbeatSeconds = Int(amqp_get_heartbeat(state))
        } catch {
            amqp_destroy_connection(state)
            throw error
        }
    }

    deinit {
        amqp_destroy_connection(state)
    }

    /// Whether the connection still works; false after a socket error or a `connection.close`.
    var isAlive: Bool { alive }

    /// Whether frames are already read (queued by an RPC, or in the input buffer), so that the
    /// loop must not wait on the socket before handling them.
    var hasBufferedInput: Bool {
        amqp_frames_enqueued(state) != 0 || amqp_data_in_buffer(state) != 0
    }

    /// Closes the connection politely (best effort, bounded by the RPC timeout).
    func close() {
        guard alive else { return }
        alive = false
        _ = amqp_connection_close(state, Int32(AMQPReplyCode.replySuccess))
    }

    // MARK: Channels and declarations

    /// Whether a channel is open (opened here and not closed by either side since).
    func isOpen(_ channel: UInt16) -> Bool { openChannels.contains(channel) }

    /// Opens a channel.
    func openChannel(_ channel: UInt16) throws(TransportError) {
        _ = amqp_channel_open(state, channel)
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "opening channel \(channel)")
        openChannels.insert(channel)
    }

    /// Closes a channel (best effort).
    func closeChannel(_ channel: UInt16) {
        openChannels.remove(channel)
        guard alive else { return }
        let reply = amqp_channel_close(state, channel, Int32(AMQPReplyCode.replySuccess))
        if reply.reply_type != AMQP_RESPONSE_NORMAL { try? check(reply, channel: channel, doing: "closing a channel") }
    }

    /// Turns on publisher confirms on a channel.
    func selectConfirms(channel: UInt16) throws(TransportError) {
        _ = amqp_confirm_select(state, channel)
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "turning on publisher confirms")
    }

    /// Limits the unacknowledged deliveries of a channel's consumers.
    func setPrefetch(channel: UInt16, count: Int) throws(TransportError) {
        _ = amqp_basic_qos(state, channel, 0, UInt16(clamping: count), 0)
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "setting the prefetch to \(count)")
    }

    /// Passive declare: whether a queue exists and how many consumers it has. A missing queue
    /// closes the channel (404); the caller reopens it.
    func inspectQueue(channel: UInt16, name: String) throws(TransportError) -> AMQPQueueState {
        let ok = withBytes(name) { amqp_queue_declare(state, channel, $0, 1, 0, 0, 0, amqp_empty_table) }
        let reply = amqp_get_rpc_reply(state)
        if reply.reply_type == AMQP_RESPONSE_NORMAL, let ok {
            return .present(consumers: Int(ok.pointee.consumer_count))
        }
        if let close = serverChannelClose(reply), close.code == AMQPReplyCode.notFound {
            answerChannelClose(channel)
            return .missing
        }
        try check(reply, channel: channel, doing: "looking up the queue \(name)")
        return .missing
    }

    /// Declares a queue (durable, not exclusive, not auto-deleted) with arguments.
    func declareQueue(channel: UInt16, name: String, arguments: [String: AMQPArgument]) throws(TransportError) {
        let table = ArgumentTable(arguments)
        _ = withBytes(name) { amqp_queue_declare(state, channel, $0, 0, 1, 0, 0, table.table) }
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "declaring the queue \(name)")
    }

    /// Deletes a queue.
    func deleteQueue(channel: UInt16, name: String) throws(TransportError) {
        _ = withBytes(name) { amqp_queue_delete(state, channel, $0, 0, 0) }
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "deleting the queue \(name)")
    }

    /// Declares a durable exchange of a type (`direct`, `topic`).
    func declareExchange(channel: UInt16, name: String, type: String) throws(TransportError) {
        _ = withBytes(name) { nameBytes in
            withBytes(type) { amqp_exchange_declare(state, channel, nameBytes, $0, 0, 1, 0, 0, amqp_empty_table) }
        }
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "declaring the exchange \(name)")
    }

    /// Binds a queue to an exchange with a routing key.
    func bindQueue(channel: UInt16, queue: String, exchange: String, routingKey: String) throws(TransportError) {
        _ = withBytes(queue) { queueBytes in
            withBytes(exchange) { exchangeBytes in
                withBytes(routingKey) { amqp_queue_bind(state, channel, queueBytes, exchangeBytes, $0, amqp_empty_table) }
            }
        }
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "binding \(queue) to \(exchange)")
    }

    /// Starts a consumer (manual acknowledgements) and returns its tag.
    func consume(channel: UInt16, queue: String, exclusive: Bool) throws(TransportError) {
        _ = withBytes(queue) { amqp_basic_consume(state, channel, $0, amqp_empty_bytes, 0, 0, exclusive ? 1 : 0, amqp_empty_table) }
        try check(amqp_get_rpc_reply(state), channel: channel, doing: "consuming the queue \(queue)")
    }

    /// Takes one message from a queue without a consumer (`basic.get`, acknowledged at once).
    func get(channel: UInt16, queue: String) throws(TransportError) -> AMQPDelivery? {
        let reply = withBytes(queue) { amqp_basic_get(state, channel, $0, 1) }
        try check(reply, channel: channel, doing: "getting a message from \(queue)")
        guard reply.reply.id == AMQPMethod.basicGetOk, let ok = reply.reply.decoded?.assumingMemoryBound(to: amqp_basic_get_ok_t.self) else {
            return nil
        }
        let tag = ok.pointee.delivery_tag
        let redelivered = ok.pointee.redelivered != 0
        let exchange = Self.string(ok.pointee.exchange)
        let routingKey = Self.string(ok.pointee.routing_key)
        let (properties, body) = try readContent(channel: channel)
        return AMQPDelivery(
            channel: channel, deliveryTag: tag, redelivered: redelivered, exchange: exchange, routingKey: routingKey,
            properties: properties, body: body)
    }

    // MARK: Publishing and acknowledging

    /// Sends `basic.publish` (no waiting: the confirm arrives later as an event).
    func publish(channel: UInt16, message: AMQPOutgoingMessage) throws(TransportError) {
        let encoded = EncodedProperties(message.properties)
        let status = withBytes(message.exchange) { exchange in
            withBytes(message.routingKey) { routingKey in
                message.body.withUnsafeBytes { body in
                    withUnsafePointer(to: encoded.properties) { properties in
                        amqp_basic_publish(
                            state, channel, exchange, routingKey, message.mandatory ? 1 : 0, 0, properties,
                            amqp_bytes_t(len: body.count, bytes: UnsafeMutableRawPointer(mutating: body.baseAddress)))
                    }
                }
            }
        }
        try checkStatus(status, doing: "publishing to \(message.exchange)")
    }

    /// Acknowledges one delivery.
    func acknowledge(channel: UInt16, deliveryTag: UInt64) throws(TransportError) {
        try checkStatus(amqp_basic_ack(state, channel, deliveryTag, 0), doing: "acknowledging a delivery")
    }

    /// Rejects one delivery with `requeue`: the broker delivers it again.
    func requeue(channel: UInt16, deliveryTag: UInt64) throws(TransportError) {
        try checkStatus(amqp_basic_reject(state, channel, deliveryTag, 1), doing: "rejecting a delivery for redelivery")
    }

    // MARK: The frame loop's read

    /// Reads the next frame, waiting at most `timeout` (zero: only what is already there or
    /// arrives in one non-blocking read). Services heartbeats. Returns `nil` on timeout.
    /// - Throws: ``TransportError`` when the connection broke or the broker closed it.
    func nextEvent(timeout: Duration) throws(TransportError) -> AMQPEvent? {
        var frame = amqp_frame_t()
        var wait = Self.timeval(timeout)
        let status = amqp_simple_wait_frame_noblock(state, &frame, &wait)
        if status == AMQP_STATUS_TIMEOUT.rawValue { return nil }
        try checkStatus(status, doing: "reading from the broker")
        defer { amqp_maybe_release_buffers(state) }
        guard frame.frame_type == UInt8(AMQP_FRAME_METHOD) else { return .other }
        let channel = frame.channel
        let method = frame.payload.method
        switch method.id {
        case AMQPMethod.basicAck:
            let ack = method.decoded.assumingMemoryBound(to: amqp_basic_ack_t.self).pointee
            return .ack(channel: channel, deliveryTag: ack.delivery_tag, multiple: ack.multiple != 0)
        case AMQPMethod.basicNack:
            let nack = method.decoded.assumingMemoryBound(to: amqp_basic_nack_t.self).pointee
            return .nack(channel: channel, deliveryTag: nack.delivery_tag, multiple: nack.multiple != 0)
        case AMQPMethod.basicReturn:
            let returned = method.decoded.assumingMemoryBound(to: amqp_basic_return_t.self).pointee
            let code = returned.reply_code
            let text = Self.string(returned.reply_text)
            let (properties, _) = try readContent(channel: channel)
            return .returned(channel: channel, replyCode: code, replyText: text, properties: properties)
        case AMQPMethod.basicDeliver:
            let deliver = method.decoded.assumingMemoryBound(to: amqp_basic_deliver_t.self).pointee
            let tag = deliver.delivery_tag
            let redelivered = deliver.redelivered != 0
            let exchange = Self.string(deliver.exchange)
            let routingKey = Self.string(deliver.routing_key)
            let (properties, body) = try readContent(channel: channel)
            return .delivery(
                AMQPDelivery(
                    channel: channel, deliveryTag: tag, redelivered: redelivered, exchange: exchange,
                    routingKey: routingKey, properties: properties, body: body))
        case AMQPMethod.basicCancel:
            return .consumerCancelled(channel: channel)
        case AMQPMethod.channelClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
            let error = Self.serverError(code: close.reply_code, text: Self.string(close.reply_text), doing: "using channel \(channel)")
            answerChannelClose(channel)
            return .channelClosed(channel: channel, error: error)
        case AMQPMethod.connectionClose:
            let close = method.decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
            let text = Self.string(close.reply_text)
            answerConnectionClose()
            throw Self.serverError(code: close.reply_code, text: text, doing: "the broker closed the connection")
        default:
            return .other
        }
    }

    // MARK: Helpers

    /// Reads the content header and body frames that follow `basic.deliver`/`return`/`get-ok`.
    private func readContent(channel: UInt16) throws(TransportError) -> (AMQPProperties, [UInt8]) {
        var message = amqp_message_t()
        let reply = amqp_read_message(state, channel, &message, 0)
        try check(reply, channel: channel, doing: "reading a message")
        defer { amqp_destroy_message(&message) }
        let body = message.body.len == 0 ? [] : [UInt8](UnsafeRawBufferPointer(start: message.body.bytes, count: message.body.len))
        return (Self.decode(message.properties), body)
    }

    private func withBytes<Result>(_ text: String, _ body: (amqp_bytes_t) -> Result) -> Result {
        var copy = Array(text.utf8)
        return copy.withUnsafeMutableBytes { body(amqp_bytes_t(len: $0.count, bytes: $0.baseAddress)) }
    }

    private func checkStatus(_ status: Int32, doing what: String) throws(TransportError) {
        guard status != AMQP_STATUS_OK.rawValue else { return }
        alive = false
        throw TransportError(.connectionFailed, "\(what): \(String(cString: amqp_error_string2(status)))")
    }

    private func serverChannelClose(_ reply: amqp_rpc_reply_t) -> (code: UInt16, text: String)? {
        guard reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION, reply.reply.id == AMQPMethod.channelClose,
            let decoded = reply.reply.decoded
        else { return nil }
        let close = decoded.assumingMemoryBound(to: amqp_channel_close_t.self).pointee
        return (close.reply_code, Self.string(close.reply_text))
    }

    /// Turns an RPC reply into success or a ``TransportError``, answering a `channel.close` or
    /// `connection.close` from the broker as the protocol requires.
    private func check(_ reply: amqp_rpc_reply_t, channel: UInt16, doing what: String) throws(TransportError) {
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            alive = false
            throw TransportError(.connectionFailed, "\(what): \(String(cString: amqp_error_string2(reply.library_error)))")
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if let close = serverChannelClose(reply) {
                answerChannelClose(channel)
                throw Self.serverError(code: close.code, text: close.text, doing: what)
            }
            if reply.reply.id == AMQPMethod.connectionClose, let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                let text = Self.string(close.reply_text)
                answerConnectionClose()
                throw Self.serverError(code: close.reply_code, text: text, doing: what)
            }
            alive = false
            throw TransportError(.protocolError, "\(what): the broker answered with an unexpected method")
        default:
            alive = false
            throw TransportError(.protocolError, "\(what): rabbitmq-c returned no reply")
        }
    }

    private func answerChannelClose(_ channel: UInt16) {
        openChannels.remove(channel)
        var closeOk = amqp_channel_close_ok_t(dummy: 0)
        if amqp_send_method(state, channel, AMQPMethod.channelCloseOk, &closeOk) != AMQP_STATUS_OK.rawValue {
            alive = false
        }
    }

    private func answerConnectionClose() {
        var closeOk = amqp_connection_close_ok_t(dummy: 0)
        _ = amqp_send_method(state, 0, AMQPMethod.connectionCloseOk, &closeOk)
        alive = false
    }

    private static func serverError(code: UInt16, text: String, doing what: String) -> TransportError {
        switch code {
        case AMQPReplyCode.accessRefused:
            return TransportError(.accessRefused, "\(what): the broker refused access (\(code) \(text))")
        case AMQPReplyCode.connectionForced:
            return TransportError(.connectionFailed, "\(what): the broker closed the connection (\(code) \(text))")
        default:
            return TransportError(.protocolError, "\(what): the broker answered \(code) \(text)")
        }
    }

    private static func checkLogin(_ reply: amqp_rpc_reply_t, url: AMQPURL) throws(TransportError) {
        let who = "logging in to \(url.host):\(url.port) as \(url.user)"
        switch reply.reply_type {
        case AMQP_RESPONSE_NORMAL:
            return
        case AMQP_RESPONSE_SERVER_EXCEPTION:
            if reply.reply.id == AMQPMethod.connectionClose, let decoded = reply.reply.decoded {
                let close = decoded.assumingMemoryBound(to: amqp_connection_close_t.self).pointee
                let text = string(close.reply_text)
                if close.reply_code == AMQPReplyCode.accessRefused && text.contains("Login was refused") {
                    throw TransportError(.authenticationFailed, "\(who): the broker refused the user name or password (\(text))")
                }
                if close.reply_code == AMQPReplyCode.notAllowed || close.reply_code == AMQPReplyCode.accessRefused {
                    throw TransportError(.accessRefused, "\(who): no access to the virtual host \(url.virtualHost) (\(text))")
                }
                throw serverError(code: close.reply_code, text: text, doing: who)
            }
            throw TransportError(.protocolError, "\(who): the broker answered with an unexpected method")
        case AMQP_RESPONSE_LIBRARY_EXCEPTION:
            let status = reply.library_error
            if status == AMQP_STATUS_CONNECTION_CLOSED.rawValue || status == AMQP_STATUS_SOCKET_CLOSED.rawValue {
                throw TransportError(.authenticationFailed, "\(who): the broker closed the connection during login (wrong user name or password?)")
            }
            if status <= AMQP_STATUS_SSL_ERROR.rawValue && status > _AMQP_STATUS_SSL_NEXT_VALUE.rawValue {
                throw TransportError(.tls, "\(who): \(String(cString: amqp_error_string2(status)))")
            }
            throw TransportError(.connectionFailed, "\(who): \(String(cString: amqp_error_string2(status)))")
        default:
            throw TransportError(.protocolError, "\(who): rabbitmq-c returned no reply")
        }
    }

    private static func makeSocket(state: amqp_connection_state_t, url: AMQPURL) throws(TransportError) -> OpaquePointer {
        guard url.usesTLS else {
            guard let socket = amqp_tcp_socket_new(state) else {
                throw TransportError(.connectionFailed, "rabbitmq-c could not create a TCP socket")
            }
            return socket
        }
        guard let socket = amqp_ssl_socket_new(state) else {
            throw TransportError(.tls, "rabbitmq-c could not create a TLS socket")
        }
        amqp_ssl_socket_set_verify_peer(socket, url.tls.verifyPeer ? 1 : 0)
        amqp_ssl_socket_set_verify_hostname(socket, url.tls.verifyPeer ? 1 : 0)
        if let ca = url.tls.caCertificateFile, amqp_ssl_socket_set_cacert(socket, ca) != AMQP_STATUS_OK.rawValue {
            throw TransportError(.tls, "cannot load the CA certificates from \(ca)")
        }
        if let certificate = url.tls.certificateFile {
            guard let key = url.tls.keyFile else {
                throw TransportError(.tls, "certfile \(certificate) needs a keyfile")
            }
            if amqp_ssl_socket_set_key(socket, certificate, key) != AMQP_STATUS_OK.rawValue {
                throw TransportError(.tls, "cannot load the client certificate \(certificate) with the key \(key)")
            }
        }
        return socket
    }

    private static func connectFailure(status: Int32, url: AMQPURL) -> TransportError {
        let reason = String(cString: amqp_error_string2(status))
        let target = "\(url.host):\(url.port)"
        if status <= AMQP_STATUS_SSL_ERROR.rawValue && status > _AMQP_STATUS_SSL_NEXT_VALUE.rawValue {
            return TransportError(.tls, "TLS with \(target) failed: \(reason)")
        }
        if status == AMQP_STATUS_HOSTNAME_RESOLUTION_FAILED.rawValue {
            return TransportError(.connectionFailed, "cannot resolve the broker host \(url.host)")
        }
        if status == AMQP_STATUS_TIMEOUT.rawValue {
            return TransportError(.connectionFailed, "the broker at \(target) is unreachable: no answer within the connection timeout")
        }
        // rabbitmq-c reports every socket failure alike (its errno is lost by then): connect
        // once more by hand to tell "refused" from "unreachable" for the operator.
        switch probeConnect(host: url.host, port: url.port, timeout: url.connectionTimeout) {
        case ECONNREFUSED:
            return TransportError(.connectionFailed, "the broker at \(target) refused the connection (nothing listens there)")
        case EHOSTUNREACH, ENETUNREACH, ETIMEDOUT, EAGAIN, EINPROGRESS:
            return TransportError(.connectionFailed, "the broker at \(target) is unreachable (no route, or no answer)")
        default:
            return TransportError(.connectionFailed, "cannot connect to the broker at \(target): \(reason)")
        }
    }

    /// Connects a plain TCP socket and returns the `errno` of the failure (0 on success).
    private static func probeConnect(host: String, port: Int, timeout: Duration) -> Int32 {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var results: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &results) == 0, let first = results else { return EHOSTUNREACH }
        defer { freeaddrinfo(results) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { return errno }
        defer { Glibc.close(descriptor) }
        var limit = Self.timeval(timeout)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<Glibc.timeval>.size))
        return connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 ? 0 : errno
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(max(0, seconds)), tv_usec: Int(max(0, attoseconds) / 1_000_000_000_000))
    }

    fileprivate static func string(_ bytes: amqp_bytes_t) -> String {
        guard bytes.len > 0, let pointer = bytes.bytes else { return "" }
        return String(decoding: UnsafeRawBufferPointer(start: pointer, count: bytes.len), as: UTF8.self)
    }

    private static func decode(_ properties: amqp_basic_properties_t) -> AMQPProperties {
        let flags = properties._flags
        func text(_ flag: Int32, _ value: amqp_bytes_t) -> String? {
            flags & amqp_flags_t(flag) != 0 ? string(value) : nil
        }
        var result = AMQPProperties(
            contentType: text(AMQP_BASIC_CONTENT_TYPE_FLAG, properties.content_type),
            deliveryMode: flags & amqp_flags_t(AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 ? properties.delivery_mode : nil,
            correlationID: text(AMQP_BASIC_CORRELATION_ID_FLAG, properties.correlation_id),
            replyTo: text(AMQP_BASIC_REPLY_TO_FLAG, properties.reply_to),
            expiration: text(AMQP_BASIC_EXPIRATION_FLAG, properties.expiration),
            messageID: text(AMQP_BASIC_MESSAGE_ID_FLAG, properties.message_id),
            timestamp: flags & amqp_flags_t(AMQP_BASIC_TIMESTAMP_FLAG) != 0 ? properties.timestamp : nil,
            type: text(AMQP_BASIC_TYPE_FLAG, properties.type),
            userID: text(AMQP_BASIC_USER_ID_FLAG, properties.user_id))
        if flags & amqp_flags_t(AMQP_BASIC_HEADERS_FLAG) != 0, let entries = properties.headers.entries {
            for index in 0..<Int(properties.headers.num_entries) {
                let entry = entries[index]
                let kind = entry.value.kind
                if kind == UInt8(ascii: "S") || kind == UInt8(ascii: "x") {
                    result.headers[string(entry.key)] = string(entry.value.value.bytes)
                }
            }
        }
        return result
    }
}

/// Method ids of AMQP 0-9-1 (class << 16 | method); rabbitmq-c's macros carry casts that
/// Swift does not import.
private enum AMQPMethod {
    static let connectionClose: UInt32 = 0x000A_0032
    static let connectionCloseOk: UInt32 = 0x000A_0033
    static let channelClose: UInt32 = 0x0014_0028
    static let channelCloseOk: UInt32 = 0x0014_0029
    static let basicCancel: UInt32 = 0x003C_001E
    static let basicReturn: UInt32 = 0x003C_0032
    static let basicDeliver: UInt32 = 0x003C_003C
    static let basicGetOk: UInt32 = 0x003C_0047
    static let basicAck: UInt32 = 0x003C_0050
    static let basicNack: UInt32 = 0x003C_0078
}

/// Reply codes of AMQP 0-9-1 that the transport tells apart.
private enum AMQPReplyCode {
    static let replySuccess: UInt16 = 200
    static let connectionForced: UInt16 = 320
    static let accessRefused: UInt16 = 403
    static let notFound: UInt16 = 404
    static let notAllowed: UInt16 = 530
}

/// C memory that an encoded property set or argument table points into, freed with it.
private final class CMemory {
    private var allocations: [amqp_bytes_t] = []
    private var entryArrays: [UnsafeMutablePointer<amqp_table_entry_t>] = []

    deinit {
        allocations.forEach { amqp_bytes_free($0) }
        entryArrays.forEach { $0.deallocate() }
    }

    /// A malloc'd copy of a string's UTF-8 bytes.
    func bytes(_ text: String) -> amqp_bytes_t {
        var source = Array(text.utf8)
        let copied = source.withUnsafeMutableBytes { amqp_bytes_malloc_dup(amqp_bytes_t(len: $0.count, bytes: $0.baseAddress)) }
        allocations.append(copied)
        return copied
    }

    /// A field table with keys in sorted order.
    func table(_ fields: [String: amqp_field_value_t]) -> amqp_table_t {
        guard !fields.isEmpty else { return amqp_table_t(num_entries: 0, entries: nil) }
        let sorted = fields.sorted { $0.key < $1.key }
        let entries = UnsafeMutablePointer<amqp_table_entry_t>.allocate(capacity: sorted.count)
        for (index, field) in sorted.enumerated() {
            (entries + index).initialize(to: amqp_table_entry_t(key: bytes(field.key), value: field.value))
        }
        entryArrays.append(entries)
        return amqp_table_t(num_entries: Int32(sorted.count), entries: entries)
    }

    /// A long-string field value.
    func stringValue(_ text: String) -> amqp_field_value_t {
        var value = amqp_field_value_t()
        value.kind = UInt8(ascii: "S")
        value.value.bytes = bytes(text)
        return value
    }
}

/// `amqp_basic_properties_t` built from ``AMQPProperties``, owning the C memory it points to.
private final class EncodedProperties {
    private(set) var properties = amqp_basic_properties_t()
    private let memory = CMemory()

    init(_ source: AMQPProperties) {
        var flags: Int32 = 0
        func set(_ value: String?, _ flag: Int32, _ field: WritableKeyPath<amqp_basic_properties_t, amqp_bytes_t>) {
            guard let value else { return }
            properties[keyPath: field] = memory.bytes(value)
            flags |= flag
        }
        set(source.contentType, AMQP_BASIC_CONTENT_TYPE_FLAG, \.content_type)
        set(source.correlationID, AMQP_BASIC_CORRELATION_ID_FLAG, \.correlation_id)
        set(source.replyTo, AMQP_BASIC_REPLY_TO_FLAG, \.reply_to)
        set(source.expiration, AMQP_BASIC_EXPIRATION_FLAG, \.expiration)
        set(source.messageID, AMQP_BASIC_MESSAGE_ID_FLAG, \.message_id)
        set(source.type, AMQP_BASIC_TYPE_FLAG, \.type)
        set(source.userID, AMQP_BASIC_USER_ID_FLAG, \.user_id)
        if let mode = source.deliveryMode {
            properties.delivery_mode = mode
            flags |= AMQP_BASIC_DELIVERY_MODE_FLAG
        }
        if let timestamp = source.timestamp {
            properties.timestamp = timestamp
            flags |= AMQP_BASIC_TIMESTAMP_FLAG
        }
        if !source.headers.isEmpty {
            properties.headers = memory.table(source.headers.mapValues { memory.stringValue($0) })
            flags |= AMQP_BASIC_HEADERS_FLAG
        }
        properties._flags = amqp_flags_t(flags)
    }
}

/// An `amqp_table_t` of queue arguments, owning its C memory.
private final class ArgumentTable {
    private(set) var table = amqp_table_t(num_entries: 0, entries: nil)
    private let memory = CMemory()

    init(_ arguments: [String: AMQPArgument]) {
        table = memory.table(
            arguments.mapValues { argument in
                switch argument {
                case .string(let text):
                    return memory.stringValue(text)
                case .integer(let number):
                    var value = amqp_field_value_t()
                    value.kind = UInt8(ascii: "l")
                    value.value.i64 = number
                    return value
                }
            })
    }
}
