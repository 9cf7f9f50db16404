import FilterCore
import Foundation

/// The messages waiting for delivery: ready ones in arrival order, deferred ones until their
/// retry time. Workers take ready ids with ``next()``; a clock task moves due ones forward with
/// ``promoteDue(now:)``.
actor DeliveryQueue {
    private var ready: [QueueID] = []
    private var readHead = 0
    private var queued: Set<QueueID> = []
    private var deferred: [QueueID: Date] = [:]
    private var waiters: [CheckedContinuation<QueueID?, Never>] = []
    private var isClosed = false

    /// Makes a message ready now (new, recovered, or retried by the operator).
    func enqueue(_ id: QueueID) {
        deferred[id] = nil
        guard !isClosed, queued.insert(id).inserted else { return }
        if waiters.isEmpty {
            ready.append(id)
        } else {
            waiters.removeFirst().resume(returning: id)
        }
    }

    /// Holds a message until `date`.
    func schedule(_ id: QueueID, at date: Date) {
        guard !isClosed else { return }
        deferred[id] = date
    }

    /// Forgets a message (deleted by the operator or finished).
    func forget(_ id: QueueID) {
        deferred[id] = nil
    }

    /// Marks a message as no longer being delivered, so it can be queued again.
    func finished(_ id: QueueID) {
        queued.remove(id)
    }

    /// Moves every deferred message whose time has come to the ready list; returns how many.
    @discardableResult
    func promoteDue(now: Date) -> Int {
        let due = deferred.filter { $0.value <= now }.keys.sorted()
        for id in due { enqueue(id) }
        return due.count
    }

    /// Moves every deferred message to the ready list now.
    func promoteAll() {
        for id in deferred.keys.sorted() { enqueue(id) }
    }

    /// The next ready message, waiting until there is one; `nil` once the queue is closed.
    func next() async -> QueueID? {
        if readHead < ready.count {
            let id = ready[readHead]
            readHead += 1
            if readHead > 1024, readHead * 2 > ready.count {
                ready.removeFirst(readHead)
                readHead = 0
            }
            return id
        }
        if isClosed { return nil }
        return await withCheckedContinuation { waiters.append($0) }
    }

    /// Stops handing out work; waiting workers get `nil`.
    func close() {
        isClosed = true
        for waiter in waiters { waiter.resume(returning: nil) }
        waiters.removeAll()
    }

    /// Whether ``close()`` was called.
    var isClosedForWork: Bool { isClosed }

    /// How many messages are ready and how many are deferred.
    var counts: (ready: Int, deferred: Int) { (ready.count - readHead, deferred.count) }
}
