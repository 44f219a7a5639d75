import Foundation
import NIOCore
import PostwireConfig

/// ``DispatcherSettings`` checked and in the units the lanes use.
struct DispatchSettings: Sendable {
    var pollInterval: Duration
    var endpointRefresh: Duration
    var requestTimeout: TimeAmount
    var schedule: RetrySchedule
    var maxRetryAfter: TimeInterval
    var disableAfter: TimeInterval
    var concurrency: Int
    var excerptBytes: Int
    /// How long a claim is the claimer's alone: the request's whole time and a margin to record
    /// it. A dispatcher that dies holding deliveries delays them by this much.
    var lease: TimeInterval

    init(_ settings: DispatcherSettings) throws(ConfigurationError) {
        do {
            schedule = try RetrySchedule(parsing: settings.retrySchedule, jitter: settings.retryJitter)
        } catch {
            throw ConfigurationError(message: "dispatcher.retrySchedule: \(error)")
        }
        guard settings.requestTimeoutMilliseconds > 0, settings.connectTimeoutMilliseconds > 0 else {
            throw ConfigurationError(message: "dispatcher.requestTimeoutMilliseconds and connectTimeoutMilliseconds must be positive")
        }
        guard settings.pollIntervalMilliseconds >= 1, settings.endpointRefreshMilliseconds >= 1 else {
            throw ConfigurationError(message: "dispatcher.pollIntervalMilliseconds and endpointRefreshMilliseconds must be at least 1")
        }
        guard (1...64).contains(settings.concurrencyPerEndpoint) else {
            throw ConfigurationError(message: "dispatcher.concurrencyPerEndpoint must be 1 to 64, not \(settings.concurrencyPerEndpoint)")
        }
        guard (0...65_536).contains(settings.responseExcerptBytes) else {
            throw ConfigurationError(message: "dispatcher.responseExcerptBytes must be 0 to 65536, not \(settings.responseExcerptBytes)")
        }
        pollInterval = .milliseconds(settings.pollIntervalMilliseconds)
        endpointRefresh = .milliseconds(settings.endpointRefreshMilliseconds)
        requestTimeout = .milliseconds(Int64(settings.requestTimeoutMilliseconds))
        maxRetryAfter = TimeInterval(max(0, settings.maxRetryAfterSeconds))
        disableAfter = TimeInterval(max(0, settings.disableAfterFailingSeconds))
        concurrency = settings.concurrencyPerEndpoint
        excerptBytes = settings.responseExcerptBytes
        lease = Double(settings.requestTimeoutMilliseconds) / 1000 + 5
    }
}
