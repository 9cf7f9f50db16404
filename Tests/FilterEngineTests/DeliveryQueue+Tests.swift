import FilterCore
import Foundation
import NIOCore
import Testing

@testable import FilterEngine

@Suite struct DeliveryQueueTests {
    let first = Self.entry(at: 1)
    let second = Self.entry(at: 2)

    static func entry(at seconds: TimeInterval) -> SpoolEntry {
        let date = Date(timeIntervalSince1970: seconds)
        return SpoolEntry(
            queueID: QueueID.generate(at: date), envelope: Envelope(mailFrom: "a@b", recipients: [EnvelopeRecipient(address: "c@d")]),
            receivedAt: date, messageSize: 1, recipients: [RecipientDelivery(state: .pending, updatedAt: date)])
    }

    @Test func readyMessagesComeOutInArrivalOrderAndOnlyOnce() async {
        let queue = DeliveryQueue()
        await queue.insert(first)
        await queue.insert(second)
        await queue.insert(first)
        #expect(await queue.next()?.entry == first)
        #expect(await queue.next()?.entry == second)
        #expect(await queue.counts.ready == 0)
    }

    @Test func aMessageBeingDeliveredCanBeQueuedAgainOnlyAfterItFinished() async {
        let queue = DeliveryQueue()
        await queue.insert(first)
        #expect(await queue.next()?.entry == first)
        #expect(await queue.retry(first.queueID))
        #expect(await queue.counts.ready == 0)
        await queue.finished(first, retryAt: Date().addingTimeInterval(60))
        #expect(await queue.retry(first.queueID))
        #expect(await queue.next()?.entry == first)
    }

    @Test func deferredMessagesWaitForTheirTime() async {
        let queue = DeliveryQueue()
        let now = Date()
        await queue.insert(first)
        await queue.insert(second)
        #expect(await queue.next()?.entry == first)
        #expect(await queue.next()?.entry == second)
        await queue.finished(first, retryAt: now.addingTimeInterval(60))
        await queue.finished(second, retryAt: now.addingTimeInterval(1))
        #expect(await queue.promoteDue(now: now) == 0)
        #expect(await queue.promoteDue(now: now.addingTimeInterval(2)) == 1)
        #expect(await queue.next()?.entry == second)
        #expect(await queue.counts.deferred == 1)
        await queue.promoteAll()
        #expect(await queue.next()?.entry == first)
    }

    @Test func finishedMessagesAreForgotten() async {
        let queue = DeliveryQueue()
        await queue.insert(first)
        #expect(await queue.next()?.entry == first)
        await queue.finished(first, retryAt: nil)
        #expect(await queue.entry(first.queueID) == nil)
        #expect(await !queue.retry(first.queueID))
        #expect(await queue.counts.ready == 0)
        #expect(await queue.counts.deferred == 0)
    }

    @Test func aMessageDeletedWhileBeingDeliveredStaysDeleted() async {
        let queue = DeliveryQueue()
        await queue.insert(first)
        await queue.insert(second)
        #expect(await queue.next()?.entry == first)
        #expect(await queue.remove(first.queueID) == first)
        #expect(await queue.remove(second.queueID) == second)
        await queue.finished(first, retryAt: Date())
        #expect(await queue.entry(first.queueID) == nil)
        #expect(await queue.counts.deferred == 0)
        await queue.insert(first)
        // The deleted second message is skipped, not handed out.
        #expect(await queue.next()?.entry == first)
    }

    @Test func contentIsKeptWithinItsBudgetForOneAttempt() async {
        let queue = DeliveryQueue(maximumContentBytes: 10)
        await queue.insert(first, content: ByteBuffer(string: "123456"))
        await queue.insert(second, content: ByteBuffer(string: "7890ab"))
        #expect(await queue.counts.contentBytes == 6)
        #expect(await queue.next() == .init(entry: first, content: ByteBuffer(string: "123456")))
        #expect(await queue.next() == .init(entry: second, content: nil))
        #expect(await queue.counts.contentBytes == 0)
        await queue.finished(first, retryAt: Date())
        #expect(await queue.promoteDue(now: Date().addingTimeInterval(1)) == 1)
        // A retry reads the message from the spool again.
        #expect(await queue.next() == .init(entry: first, content: nil))
    }

    @Test func closingWakesWaitingWorkers() async {
        let queue = DeliveryQueue()
        async let waiting = queue.next()
        try? await Task.sleep(for: .milliseconds(50))
        await queue.close()
        #expect(await waiting == nil)
        await queue.insert(first)
        #expect(await queue.next() == nil)
    }

    @Test func aWaitingWorkerGetsTheNextMessageAtOnce() async {
        let queue = DeliveryQueue()
        async let waiting = queue.next()
        try? await Task.sleep(for: .milliseconds(50))
        await queue.insert(second)
        #expect(await waiting?.entry == second)
    }
}
