import FilterCore
import Foundation
import Testing

@testable import FilterEngine

@Suite struct DeliveryQueueTests {
    let first = QueueID.generate(at: Date(timeIntervalSince1970: 1))
    let second = QueueID.generate(at: Date(timeIntervalSince1970: 2))

    @Test func readyMessagesComeOutInArrivalOrderAndOnlyOnce() async {
        let queue = DeliveryQueue()
        await queue.enqueue(first)
        await queue.enqueue(second)
        await queue.enqueue(first)
        #expect(await queue.next() == first)
        #expect(await queue.next() == second)
        #expect(await queue.counts.ready == 0)
    }

    @Test func aMessageBeingDeliveredCanBeQueuedAgainOnlyAfterItFinished() async {
        let queue = DeliveryQueue()
        await queue.enqueue(first)
        #expect(await queue.next() == first)
        await queue.enqueue(first)
        #expect(await queue.counts.ready == 0)
        await queue.finished(first)
        await queue.enqueue(first)
        #expect(await queue.next() == first)
    }

    @Test func deferredMessagesWaitForTheirTime() async {
        let queue = DeliveryQueue()
        let now = Date()
        await queue.schedule(first, at: now.addingTimeInterval(60))
        await queue.schedule(second, at: now.addingTimeInterval(1))
        #expect(await queue.promoteDue(now: now) == 0)
        #expect(await queue.promoteDue(now: now.addingTimeInterval(2)) == 1)
        #expect(await queue.next() == second)
        #expect(await queue.counts.deferred == 1)
        await queue.promoteAll()
        #expect(await queue.next() == first)
    }

    @Test func closingWakesWaitingWorkers() async {
        let queue = DeliveryQueue()
        async let waiting = queue.next()
        try? await Task.sleep(for: .milliseconds(50))
        await queue.close()
        #expect(await waiting == nil)
        await queue.enqueue(first)
        #expect(await queue.next() == nil)
    }

    @Test func aWaitingWorkerGetsTheNextMessageAtOnce() async {
        let queue = DeliveryQueue()
        async let waiting = queue.next()
        try? await Task.sleep(for: .milliseconds(50))
        await queue.enqueue(second)
        #expect(await waiting == second)
    }
}
