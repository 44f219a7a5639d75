extension RedisClient {
    /// Takes one token from the token bucket at `key` (`ratePerSecond` refill, `capacity` tokens),
    /// atomically, with Redis's own clock so every ingress shares one bucket and one notion of time.
    /// Returns nil when a token was taken, else how long until one will be available.
    public func takeToken(_ key: String, ratePerSecond: Double, capacity: Int) async throws(RedisError) -> Duration? {
        let reply = try await evaluate(
            Self.tokenBucketScript, keys: [key], arguments: [RESPArgument(String(ratePerSecond)), RESPArgument(capacity)])
        guard let values = reply.array, values.count == 2, let allowed = values[0].integer, let wait = values[1].integer else {
            throw RedisError(.protocolError, "token bucket answered \(reply)")
        }
        return allowed == 1 ? nil : .milliseconds(wait)
    }

    /// State: a hash {tokens, at (ms)}; it expires once the bucket would be full again anyway.
    static let tokenBucketScript = RedisScript(
        """
        local rate = tonumber(ARGV[1])
        local capacity = tonumber(ARGV[2])
        local time = redis.call('TIME')
        local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
        local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
        local tokens = tonumber(state[1]) or capacity
        local at = tonumber(state[2]) or now
        tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
        local allowed, wait = 0, 0
        if tokens >= 1 then
          tokens = tokens - 1
          allowed = 1
        else
          wait = math.ceil((1 - tokens) * 1000 / rate)
        end
        redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
        redis.call('PEXPIRE', KEYS[1], math.ceil(capacity * 1000 / rate) + 1000)
        return {allowed, wait}
        """)
}
