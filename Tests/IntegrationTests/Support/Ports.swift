import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ports already handed out by `freePort()` in this test process, so two tests
/// running in parallel never get the same one.
private let handedOutPorts = Mutex<Set<UInt16>>([])

/// Returns a TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads
/// the port the kernel chose, and closes the socket. Used where a program cannot
/// listen on port 0 itself (Postfix, smtp-sink). Another process may still take it
/// before the caller binds; tests accept that small race.
/// - Throws: `HarnessError.Code.socketFailed`.
func freePort() throws -> UInt16 {
    while true {
        let port = try kernelChosenPort()
        let isNew = handedOutPorts.withLock { $0.insert(port).inserted }
        if isNew {
            return port
        }
    }
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
/// - Parameters:
///   - port: The port.
///   - timeout: How long to keep trying.
/// - Throws: `HarnessError.Code.timedOut`.
func waitUntilListening(port: UInt16, timeout: Duration = .seconds(30)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try canConnect(port: port) {
            return
        }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw HarnessError(code: .timedOut, message: "nothing listens on 127.0.0.1:\(port) after \(timeout)")
}

private func kernelChosenPort() throws -> UInt16 {
    let socketDescriptor = try openSocket()
    defer { close(socketDescriptor) }
    var address = loopbackAddress(port: 0)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    guard bound == 0 else {
        throw HarnessError(code: .socketFailed, message: "bind(127.0.0.1:0) failed: errno \(errno)")
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            getsockname(socketDescriptor, $0, &length)
        }
    }
    guard named == 0 else {
        throw HarnessError(code: .socketFailed, message: "getsockname failed: errno \(errno)")
    }
    return UInt16(bigEndian: address.sin_port)
}

private func canConnect(port: UInt16) throws -> Bool {
    let socketDescriptor = try openSocket()
    defer { close(socketDescriptor) }
    return connectToLoopback(socketDescriptor, port: port)
}

/// Connects an open socket to `127.0.0.1:port`; false when the connection is refused.
func connectToLoopback(_ socketDescriptor: Int32, port: UInt16) -> Bool {
    var address = loopbackAddress(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            connect(socketDescriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }
    return connected == 0
}

/// Opens an IPv4 TCP socket.
func openSocket() throws -> Int32 {
    #if canImport(Glibc)
    let streamType = Int32(SOCK_STREAM.rawValue)
    #else
    let streamType = SOCK_STREAM
    #endif
    let socketDescriptor = socket(AF_INET, streamType, 0)
    guard socketDescriptor >= 0 else {
        throw HarnessError(code: .socketFailed, message: "socket() failed: errno \(errno)")
    }
    return socketDescriptor
}

private func loopbackAddress(port: UInt16) -> sockaddr_in {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return address
}
