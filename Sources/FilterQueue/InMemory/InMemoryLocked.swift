import Foundation

/// A value guarded by a lock, for state that synchronous callbacks (such as an
/// `AsyncThrowingStream` termination handler) must reach without hopping to an actor.
///
/// `Synchronization.Mutex` would do, but needs macOS 15 while the package supports macOS 14.
final class InMemoryLocked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    /// Guards `value`.
    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access to the value. `body` must not block or call back into
    /// code that takes this lock.
    func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
