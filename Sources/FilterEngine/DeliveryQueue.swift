import FilterCore
import Foundation
import NIOCore

/// The spool entries the server knows about and the order in which they are delivered: ready
/// ones in arrival order, deferred ones until their retry time. Workers take ready entries with
/// ``next()`` and report back with ``finished(_:retryAt:)``; a clock task moves due ones
/// forward with ``promoteDue(now:)``.
///
/// Entries are kept in memory so that delivery does not reread every envelope from disk, and
/// in the same actor as the queue so that taking and finishing a message are one hop each.
/// The bytes of newly accepted small messages are kept too, up to a budget, until their first
/// delivery attempt takes them.
actor DeliveryQueue {
    /// A message to deliver.
    struct Item: Sendable, Equatable {
        /// Its state.
        var entry: SpoolEntry
        /// Its bytes, when they were kept in memory since it was accepted.
        var content: ByteBuffer?
    }

    private let maximumContentBytes: Int
    private var contentBytes = 0
    private var contents: [QueueID: ByteBuffer] = [:]
    private var entries: [QueueID: SpoolEntry] = [:]
    private var ready: [QueueID] = []
    private var readHead = 0
    private var queued: Set<QueueID> = []
    private var deferred: [QueueID: Date] = [:]
    private var waiters: [CheckedContinuation<Item?, Never>] = []
    private var isClosed = false
    /// The octets of every known message, for the spool size gauges.
    private var spoolBytes = 0

    /// - Parameter maximumContentBytes: How many octets of message bytes to keep at most.
    init(maximumContentBytes: Int = 0) {
        self.maximumContentBytes = maximumContentBytes
    }

    /// Records an entry (new, recovered, or a DSN) and makes it ready now.
    /// - Parameters:
    ///   - entry: The entry.
    ///   - content: The message's bytes, kept for its next attempt if the budget allows.
    func insert(_ entry: SpoolEntry, content: ByteBuffer? = nil) {
        if entries.updateValue(entry, forKey: entry.queueID) == nil {
            spoolBytes += entry.messageSize
            FilterMetrics.spoolSize(entries: entries.count, bytes: spoolBytes)
        }
        if let content, contents[entry.queueID] == nil, contentBytes + content.readableBytes <= maximumContentBytes {
            contents[entry.queueID] = content
            contentBytes += content.readableBytes
        }
        enqueue(entry.queueID)
    }

    /// Makes a known message ready now (retried by the operator).
    /// - Returns: false if the message is not known.
    @discardableResult
    func retry(_ id: QueueID) -> Bool {
        guard entries[id] != nil else { return false }
        enqueue(id)
        return true
    }

    /// The entry of a known message.
    func entry(_ id: QueueID) -> SpoolEntry? { entries[id] }

    /// Forgets a message (deleted by the operator).
    /// - Returns: The entry, or `nil` if the message was not known.
    func remove(_ id: QueueID) -> SpoolEntry? {
        deferred[id] = nil
        _ = takeContent(id)
        return forget(id)
    }

    /// Ends a delivery attempt: keeps the message's new state and, with `retryAt`, holds it
    /// until then; without, forgets it (every recipient is final and it left the spool).
    func finished(_ entry: SpoolEntry, retryAt: Date?) {
        let id = entry.queueID
        queued.remove(id)
        // Deleted by the operator while it was being delivered: it stays deleted.
        guard entries[id] != nil else { return }
        if let retryAt {
            entries[id] = entry
            if !isClosed { deferred[id] = retryAt }
        } else {
            forget(id)
            deferred[id] = nil
        }
    }

    /// Ends the decision step of a message taken with ``next()``: keeps its decided state and
    /// makes it ready again, with its bytes if the budget allows.
    func decided(_ entry: SpoolEntry, content: ByteBuffer?) {
        queued.remove(entry.queueID)
        // Deleted by the operator while it was being decided: it stays deleted.
        guard entries[entry.queueID] != nil else { return }
        insert(entry, content: content)
    }

    /// Ends a delivery attempt that left the message as it was (it could not be removed):
    /// it stays known, but is not retried before a restart or the operator asks.
    func abandoned(_ entry: SpoolEntry) {
        queued.remove(entry.queueID)
        guard entries[entry.queueID] != nil else { return }
        entries[entry.queueID] = entry
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
    func next() async -> Item? {
        while readHead < ready.count {
            let id = ready[readHead]
            readHead += 1
            if readHead > 1024, readHead * 2 > ready.count {
                ready.removeFirst(readHead)
                readHead = 0
            }
            // Deleted by the operator while it waited: skip it.
            guard let entry = entries[id] else {
                queued.remove(id)
                continue
            }
            return Item(entry: entry, content: takeContent(id))
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

    /// Messages known and not finished: being decided, ready, in delivery or deferred.
    var depth: Int { entries.count }

    /// Ready and deferred messages, and the octets of message bytes held.
    var counts: (ready: Int, deferred: Int, contentBytes: Int) { (ready.count - readHead, deferred.count, contentBytes) }

    private func enqueue(_ id: QueueID) {
        deferred[id] = nil
        guard !isClosed, let entry = entries[id], queued.insert(id).inserted else { return }
        if waiters.isEmpty {
            ready.append(id)
        } else {
            waiters.removeFirst().resume(returning: Item(entry: entry, content: takeContent(id)))
        }
    }

    /// Drops a message from ``entries`` and updates the spool size gauges.
    @discardableResult
    private func forget(_ id: QueueID) -> SpoolEntry? {
        guard let entry = entries.removeValue(forKey: id) else { return nil }
        spoolBytes -= entry.messageSize
        FilterMetrics.spoolSize(entries: entries.count, bytes: spoolBytes)
        return entry
    }

    private func takeContent(_ id: QueueID) -> ByteBuffer? {
        guard let content = contents.removeValue(forKey: id) else { return nil }
        contentBytes -= content.readableBytes
        return content
    }
}
