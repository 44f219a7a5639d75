import CoreMetrics
import Operations
import Providers

/// What the ingress reports on its operations port (docs/METRICS.md). Labels are bounded: known
/// provider names (else `unknown`), configured source names (else `unknown`), status codes, event
/// types and a fixed list of reasons.
public struct IngressMetrics: Sendable {
    public let registry: MetricsRegistry

    public init() {
        registry = MetricsRegistry(
            durationBuckets: [:],
            valueBuckets: ["postwire_ingress_request_body_bytes": [256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 5_242_880]]
        )
        // Unlabelled series exist from the start (making one registers it, empty), so `increase()`
        // sees their first step.
        _ = Timer(label: "postwire_ingress_xadd_duration_seconds", factory: registry.factory)
    }

    /// What one webhook request came to.
    struct Observation {
        var provider = "unknown"
        var source = "unknown"
        var bodyBytes: Int?
        /// Accepted event types and how many of each.
        var accepted: [String: Int] = [:]
        var authFailure: String?
        var quarantined = false
        /// Elements of an authentic request set aside (quarantined, or over the budget).
        var elementsSetAside = 0
        var overBudget = 0
        var rateLimited = false
        var xadd: Duration?
    }

    func record(_ observation: Observation, status: Int, duration: Duration) {
        let factory = registry.factory
        let provider = observation.provider
        Counter(
            label: "postwire_ingress_requests_total",
            dimensions: [("provider", provider), ("source", observation.source), ("status", String(status))], factory: factory
        ).increment()
        Timer(label: "postwire_ingress_request_duration_seconds", dimensions: [("provider", provider)], factory: factory)
            .recordNanoseconds(Self.nanoseconds(duration))
        if let bytes = observation.bodyBytes {
            Recorder(label: "postwire_ingress_request_body_bytes", dimensions: [("provider", provider)], factory: factory).record(bytes)
        }
        for (type, count) in observation.accepted {
            Counter(
                label: "postwire_ingress_events_accepted_total", dimensions: [("provider", provider), ("event_type", type)],
                factory: factory
            )
            .increment(by: count)
        }
        if let reason = observation.authFailure {
            Counter(
                label: "postwire_ingress_auth_failures_total", dimensions: [("provider", provider), ("reason", reason)], factory: factory
            )
            .increment()
        }
        if observation.quarantined {
            Counter(label: "postwire_ingress_quarantined_total", dimensions: [("provider", provider)], factory: factory).increment()
        }
        if observation.elementsSetAside > 0 {
            Counter(label: "postwire_ingress_elements_quarantined_total", dimensions: [("provider", provider)], factory: factory)
                .increment(by: observation.elementsSetAside)
        }
        if observation.overBudget > 0 {
            Counter(label: "postwire_ingress_quarantine_over_budget_total", dimensions: [("provider", provider)], factory: factory)
                .increment(by: observation.overBudget)
        }
        if observation.rateLimited {
            Counter(
                label: "postwire_ingress_rate_limited_total", dimensions: [("provider", provider), ("source", observation.source)],
                factory: factory
            ).increment()
        }
        if let xadd = observation.xadd {
            Timer(label: "postwire_ingress_xadd_duration_seconds", factory: factory).recordNanoseconds(Self.nanoseconds(xadd))
        }
    }

    /// The `reason` label of an authentication failure.
    static func reason(_ code: WebhookError.Code) -> String {
        switch code {
        case .missingCredentials: "missing"
        case .badSignature: "invalid"
        case .staleTimestamp: "stale"
        case .replayed: "replayed"
        case .unreadable: "unreadable"
        case .malformed, .unavailable: code.rawValue
        }
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }
}
