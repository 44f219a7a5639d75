import Logging
import PostwireConfig
import RedisStreams

/// Admits or refuses a request for a source under its rate limit.
public protocol RateLimiter: Sendable {
    /// nil: admitted; else how long the caller should wait before retrying.
    func admit(provider: String, source: String, limit: RateLimitSettings) async -> Duration?
}

/// A token bucket per source in Redis, shared by every ingress replica (docs/DESIGN.md: `postwire:rl:*`).
/// If Redis cannot be asked, the request is admitted: appending its events needs Redis too, and
/// that answers 503 on its own, so failing open here loses nothing and refuses no ESP wrongly.
public struct RedisRateLimiter: RateLimiter {
    let client: RedisClient
    let prefix: String
    let logger: Logger

    public init(client: RedisClient, prefix: String, logger: Logger) {
        self.client = client
        self.prefix = prefix
        self.logger = logger
    }

    public func admit(provider: String, source: String, limit: RateLimitSettings) async -> Duration? {
        do {
            return try await client.takeToken(
                prefix + provider + ":" + source, ratePerSecond: limit.requestsPerSecond, capacity: limit.capacity)
        } catch {
            logger.warning("rate limit not checked: Redis unavailable", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
