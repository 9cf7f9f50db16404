import FilterCore
import FilterSMTP
import Metrics

/// The metrics FilterEngine records (docs/metrics.md), through the process's `MetricsSystem`:
/// a program that bootstraps no metrics backend records into swift-metrics' no-op handlers.
///
/// Handlers are looked up at each use, so that they come from the backend bootstrapped by then;
/// every label value comes from a small fixed set (actions, decision sources, reasons, reply
/// classes), never a queue id or an address.
enum FilterMetrics {
    /// A message was spooled and answered 250.
    static func messageAccepted(bytes: Int) {
        Counter(label: "filterd_messages_accepted_total").increment()
        Counter(label: "filterd_accepted_bytes_total").increment(by: bytes)
    }

    /// A recipient got a decision (from its owner, a policy or a fallback).
    static func decided(_ decision: RecipientDecision) {
        Counter(
            label: "filterd_decisions_total",
            dimensions: [("action", decision.action.rawValue), ("source", decision.source.rawValue)]
        ).increment()
    }

    /// An owner's question ran into its deadline: the fallback action applies.
    static func deadlineFallback() {
        Counter(label: "filterd_deadline_fallbacks_total").increment()
    }

    /// A reply was checked and not applied.
    static func replyRejected(_ reason: RejectedReplyReason) {
        Counter(label: "filterd_rejected_replies_total", dimensions: [("reason", reason.rawValue)]).increment()
    }

    /// The spool now holds `entries` messages of `bytes` octets in all.
    static func spoolSize(entries: Int, bytes: Int) {
        Gauge(label: "filterd_spool_entries").record(entries)
        Gauge(label: "filterd_spool_bytes").record(bytes)
    }

    /// One transaction with the next hop took `duration` (connecting included) and ended with
    /// these final replies, one per recipient.
    static func nextHopTransaction(after duration: Duration, replies: [SMTPReply]) {
        Timer(label: "filterd_next_hop_transaction_duration_seconds").recordNanoseconds(duration.nanoseconds)
        for reply in replies {
            nextHopResult(reply.isPositive ? "2xx" : reply.isTransientFailure ? "4xx" : "5xx")
        }
    }

    /// One transaction with the next hop failed after `duration`: with the reply that ended it
    /// (a refused MAIL FROM, say), or without one (the next hop was unreachable, or the
    /// connection broke).
    static func nextHopTransaction(after duration: Duration, failedWith error: any Error, recipients: Int) {
        Timer(label: "filterd_next_hop_transaction_duration_seconds").recordNanoseconds(duration.nanoseconds)
        let result: String
        if let reply = (error as? SMTPClientError)?.reply {
            result = reply.isTransientFailure ? "4xx" : "5xx"
        } else {
            result = "unreachable"
        }
        nextHopResult(result, count: recipients)
    }

    private static func nextHopResult(_ result: String, count: Int = 1) {
        Counter(label: "filterd_next_hop_recipients_total", dimensions: [("result", result)]).increment(by: count)
    }

    /// What happened to an outcome event: `published`, `dropped` or `failed`.
    static func event(_ result: String) {
        Counter(label: "filterd_events_total", dimensions: [("result", result)]).increment()
    }

    /// The client answered a request with `action` after running its pipeline for `duration`.
    static func clientAnswered(action: FilterAction, pipelineDuration duration: Duration?) {
        Counter(label: "filterd_client_requests_total").increment()
        Counter(label: "filterd_client_decisions_total", dimensions: [("action", action.rawValue)]).increment()
        if let duration {
            Timer(label: "filterd_client_pipeline_duration_seconds").recordNanoseconds(duration.nanoseconds)
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating).
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product + attoseconds / 1_000_000_000
    }
}
