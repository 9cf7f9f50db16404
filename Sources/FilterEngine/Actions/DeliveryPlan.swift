import FilterCore
import Foundation

/// What happens to one decided recipient in a delivery attempt: a pure function of the
/// decision, the owner's ``ActionPolicy`` and the time (DESIGN.md, "Actions").
enum Disposition: Sendable, Hashable {
    /// Deliver a copy with these edits to these addresses.
    case deliver(targets: [EnvelopeRecipient], edits: HeaderEdits)
    /// `deny` with the discard policy: final, nothing sent.
    case discard(reason: String)
    /// `deny` with the bounce policy: final, a DSN with this diagnostic.
    case bounce(diagnostic: String)
    /// `virus` or `quarantine`: into the quarantine store.
    case quarantine(action: FilterAction, reason: String)
    /// `pending`: keep and ask again at this time.
    case hold(until: Date)
}

/// Turns decisions into ``Disposition``s.
struct DeliveryPlanner: Sendable {
    let filtering: FilteringConfiguration
    var fieldPolicy: HeaderFieldPolicy { filtering.headerFields }

    /// The plan for one recipient and the problems found in its reply (refused header fields,
    /// a refused forward), for the log.
    struct Plan: Sendable, Hashable {
        var disposition: Disposition
        var warnings: [String] = []
    }

    /// The plan for the recipient at `index` of `entry`, which must be decided.
    func plan(_ entry: SpoolEntry, recipientAt index: Int, now: Date) -> Plan {
        let recipient = entry.envelope.recipients[index]
        let delivery = entry.recipients[index]
        let owner = filtering.owners.owner(of: recipient.address)
        let policy = filtering.actions(for: owner)
        let decision = delivery.decision ?? RecipientDecision(action: .pass, source: .unsubscribed)
        let reply = decision.reply
        let reason = reply?.reason.map(\.singleLine) ?? "no reason given"
        var warnings: [String] = []

        func copy(_ action: FilterAction, to targets: [EnvelopeRecipient], note: String? = nil, spam: Bool = false) -> Plan {
            var (fields, refused) = fieldPolicy.sanitize(reply?.addHeaders ?? [])
            warnings += refused.map { "header field refused: \($0)" }
            if spam { fields.removeAll { HeaderFieldPolicy.spamMarkingNames.contains($0.name.lowercased()) } }
            var edits = HeaderEdits(
                verdict: Self.verdict(action, owner: owner, source: decision.source, reason: note ?? reply?.reason),
                addedFields: fields)
            if spam {
                edits.spamScore = HeaderEdits.SpamMarking(score: reply?.score)
                edits.subjectTag = fieldPolicy.sanitizeTag(reply?.subjectTag ?? policy.spamSubjectTag)
                if let tag = reply?.subjectTag, tag.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    warnings.append("subject tag: control characters replaced by spaces (header injection)")
                }
            }
            return Plan(disposition: .deliver(targets: targets, edits: edits), warnings: warnings)
        }

        switch decision.action {
        case .deny:
            switch policy.deny {
            case .discard:
                return Plan(disposition: .discard(reason: reason))
            case .bounce:
                let diagnostic = policy.discloseReason
                    ? "rejected by the recipient's mail filter: \(reason)" : "rejected by the recipient's mail filter"
                return Plan(disposition: .bounce(diagnostic: diagnostic))
            }
        case .spam:
            let target = policy.spamRedirect.map { redirected(recipient, to: $0) } ?? recipient
            return copy(.spam, to: [target], spam: true)
        case .virus, .quarantine:
            return Plan(disposition: .quarantine(action: decision.action, reason: reason))
        case .forward:
            switch forwardTargets(reply?.forward ?? [], for: recipient, policy: policy) {
            case .success(let forwards):
                let targets = policy.forwardMode == .copy ? [recipient] + forwards : forwards
                return copy(.forward, to: targets)
            case .failure(let refusal):
                warnings.append("forward refused, delivered to the recipient: \(refusal.reason)")
                return copy(.pass, to: [recipient], note: "forward refused: \(refusal.reason)")
            }
        case .pending:
            let heldSince = delivery.heldSince ?? now
            let retryAfter = reply?.retryAfter.map { Duration.seconds(max(1, $0)) } ?? policy.defaultRetryAfter
            let until = min(heldSince.addingTimeInterval(policy.maximumHold.timeInterval), now.addingTimeInterval(retryAfter.timeInterval))
            return Plan(disposition: .hold(until: until))
        default:
            return copy(.pass, to: [recipient])
        }
    }

    /// The `X-Filter-Verdict` value: `action=spam; owner=alice@example.com; source=client;
    /// reason="…"`, printable ASCII only (other characters become `?`), the reason at most
    /// 120 characters.
    static func verdict(_ action: FilterAction, owner: String, source: RecipientDecision.Source, reason: String?) -> String {
        func ascii(_ text: String) -> String {
            String(String.UnicodeScalarView(text.unicodeScalars.map { $0.isPrintableASCII ? $0 : "?" }))
        }
        var value = "action=\(ascii(action.rawValue)); owner=\(ascii(owner)); source=\(ascii(source.rawValue))"
        if let reason, !reason.isEmpty {
            let quoted = ascii(String(reason.prefix(120))).replacingOccurrences(of: "\\", with: "\\\\")
                .replacingOccurrences(of: "\"", with: "\\\"")
            value += "; reason=\"\(quoted)\""
        }
        return value
    }

    /// Where spam for `recipient` goes under `redirect`.
    private func redirected(_ recipient: EnvelopeRecipient, to redirect: ActionPolicy.SpamRedirect) -> EnvelopeRecipient {
        let address: String
        switch redirect {
        case .address(let target):
            address = target
        case .extension(let tag):
            guard let at = recipient.address.lastIndex(of: "@") else { return recipient }
            let local = recipient.address[..<at]
            let base = local.firstIndex(where: { filtering.owners.delimiters.contains($0) }).map { local[..<$0] } ?? local
            let delimiter = filtering.owners.delimiters.sorted().first ?? "+"
            address = "\(base)\(delimiter)\(tag)\(recipient.address[at...])"
        }
        return Self.onBehalf(of: recipient, address: address)
    }

    /// A recipient that delivers for `recipient`: same NOTIFY, and ORCPT naming the original,
    /// so DSNs about it point to the address the sender used.
    private static func onBehalf(of recipient: EnvelopeRecipient, address: String) -> EnvelopeRecipient {
        EnvelopeRecipient(
            address: address, notify: recipient.notify,
            originalRecipient: recipient.originalRecipient ?? "rfc822;\(XText.encode(recipient.address))")
    }

    /// Why a `forward` was not followed.
    struct ForwardRefusal: Error, Hashable {
        var reason: String
    }

    /// The reply's forward addresses as recipients, when every one is valid and allowed.
    private func forwardTargets(
        _ addresses: [String], for recipient: EnvelopeRecipient, policy: ActionPolicy
    ) -> Result<[EnvelopeRecipient], ForwardRefusal> {
        guard !addresses.isEmpty else { return .failure(ForwardRefusal(reason: "no addresses given")) }
        guard addresses.count <= policy.forwardMaximumAddresses else {
            return .failure(ForwardRefusal(reason: "\(addresses.count) addresses, at most \(policy.forwardMaximumAddresses) allowed"))
        }
        var targets: [EnvelopeRecipient] = []
        for address in addresses {
            guard let domain = DeliveryAddress.domain(of: address) else {
                return .failure(ForwardRefusal(reason: "not a valid address: \(String(address.prefix(80)).singleLine)"))
            }
            guard policy.allowsForward(toDomain: domain) else {
                return .failure(ForwardRefusal(reason: "forwarding to \(domain) is not allowed"))
            }
            targets.append(Self.onBehalf(of: recipient, address: address))
        }
        return .success(targets)
    }
}
