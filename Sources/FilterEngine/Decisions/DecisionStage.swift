import FilterCore
import Foundation
import Logging
import NIOCore

/// The step between spooling and delivery when the server runs with a transport: every
/// recipient without a decision gets one (DESIGN.md, flow steps 3 to 5 and 7).
struct DecisionStage: Sendable {
    let coordinator: DecisionCoordinator
    let configuration: FilteringConfiguration

    /// The recipients still to be decided: not final and without a decision.
    static func undecided(_ entry: SpoolEntry) -> [Int] {
        entry.recipients.indices.filter { !entry.recipients[$0].state.isFinal && entry.recipients[$0].decision == nil }
    }

    /// Gives every undecided recipient its request id, `<queue id>.<recipient index>`, unless
    /// it has one already (asked before a restart: the same id is asked again).
    /// - Returns: Whether an id was added; the entry must then be saved before asking.
    static func assignRequestIDs(_ entry: inout SpoolEntry) -> Bool {
        var added = false
        for index in undecided(entry) where entry.recipients[index].requestID == nil {
            entry.recipients[index].requestID = requestID(of: entry, at: index)
            added = true
        }
        return added
    }

    /// The request id of a recipient: the one recorded, or `<queue id>.<recipient index>`.
    static func requestID(of entry: SpoolEntry, at index: Int) -> String {
        entry.recipients[index].requestID ?? "\(entry.queueID).\(index)"
    }

    /// Asks the owners of every undecided recipient at once and returns the entry with their
    /// decisions. Recipients must have request ids (``assignRequestIDs(_:)``, saved).
    /// - Parameter message: The message, at least its first `maximumRequestBytes` octets;
    ///   requests carry no more than that.
    func decide(_ entry: SpoolEntry, message: ByteBuffer) async -> SpoolEntry {
        let truncated = entry.messageSize > configuration.maximumRequestBytes
        let body = Array(message.readableBytesView.prefix(configuration.maximumRequestBytes))
        let now = Date()
        var decided = entry
        await withTaskGroup(of: (Int, RecipientDecision).self) { group in
            for index in Self.undecided(entry) {
                let recipient = entry.envelope.recipients[index]
                let owner = configuration.owners.owner(of: recipient.address)
                let requestID = Self.requestID(of: entry, at: index)
                let deadline = now.addingTimeInterval(configuration.deadline(for: owner).timeInterval)
                let metadata = FilterRequestMetadata(
                    requestID: requestID, queueID: entry.queueID, received: entry.receivedAt, deadline: deadline,
                    envelope: entry.envelope, recipient: recipient, owner: owner, size: entry.messageSize,
                    truncated: truncated)
                let question = OwnerQuestion(requestID: requestID, owner: owner, metadata: metadata, body: body)
                group.addTask { (index, await coordinator.decide(question)) }
            }
            for await (index, decision) in group {
                decided.recipients[index].decision = decision
                FilterMetrics.decided(decision)
                decided.recipients[index].updatedAt = now
            }
        }
        return decided
    }
}

