/// The ingress's one atomic write for a request that has a replay nonce or elements to quarantine.
extension RedisClient {
    public struct StoreReply: Sendable, Equatable {
        public var appended: Int
        public var quarantined: Int
        public var overBudget: Int
    }

    /// In one script (Lua runs atomically): when `guardKey` exists, nothing happens and nil is
    /// returned; else appends `events` to `stream`, appends each `quarantine` entry to
    /// `quarantineStream` while the hourly budget in `budgetKey` (entries and bytes) allows
    /// (counting the rest as over budget), and sets `guardKey` last. A script that fails halfway
    /// (Redis out of memory) keeps what it wrote, so the guard comes last: the ESP's retry of a
    /// request that got 503 is then accepted, not refused as a replay, and its events deduplicate.
    ///
    /// Every key of the script is named in KEYS. On a single Redis they may be anywhere; on a
    /// cluster they must share a hash slot: ``StreamLayout`` gives a shard's guard keys, quarantine
    /// stream and budget counters the shard's hash tag.
    public func storeRequest(
        stream: String, events: [Fields], guardKey: String?, nonceTTL: Int, quarantineStream: String, quarantine: [Fields],
        budgetKey: String, budget: (entries: Int, bytes: Int), acknowledgement: ReplicaAcknowledgement? = nil
    ) async throws(RedisError) -> StoreReply? {
        var arguments: [RESPArgument] = [
            RESPArgument(max(1, nonceTTL)), RESPArgument(budget.entries), RESPArgument(budget.bytes), RESPArgument(7200),
            RESPArgument(events.count),
        ]
        for fields in events { Self.append(fields, to: &arguments) }
        arguments.append(RESPArgument(quarantine.count))
        for fields in quarantine {
            arguments.append(RESPArgument(fields.reduce(0) { $0 + $1.0.utf8.count + $1.1.count }))
            Self.append(fields, to: &arguments)
        }
        // No guard, no fourth key: a placeholder key would hash to a slot of its own, which a
        // cluster refuses (CROSSSLOT).
        let keys = [stream, quarantineStream, budgetKey] + (guardKey.map { [$0] } ?? [])
        let reply = try await evaluate(Self.storeRequestScript, keys: keys, arguments: arguments, acknowledgement: acknowledgement)
        if reply.isNull { return nil }
        guard let parts = reply.array, parts.count == 3, let appended = parts[0].integer, let kept = parts[1].integer,
            let over = parts[2].integer
        else { throw RedisError(.protocolError, "store script answered \(reply)") }
        return StoreReply(appended: Int(appended), quarantined: Int(kept), overBudget: Int(over))
    }

    private static func append(_ fields: Fields, to arguments: inout [RESPArgument]) {
        arguments.append(RESPArgument(fields.count))
        for (name, value) in fields {
            arguments.append(RESPArgument(name))
            arguments.append(RESPArgument(value))
        }
    }

    /// KEYS: stream, quarantine stream, budget key, and the guard key when there is one. ARGV:
    /// nonce TTL, budget entries, budget bytes, budget TTL, then the events (count; each: field
    /// count, fields), then the quarantine entries (count; each: size, field count, fields).
    static let storeRequestScript = RedisScript(
        """
        local guard = KEYS[4]
        if guard and redis.call('EXISTS', guard) == 1 then return false end
        local i = 6
        local appended = 0
        for e = 1, tonumber(ARGV[5]) do
          local n = tonumber(ARGV[i]) * 2
          redis.call('XADD', KEYS[1], '*', unpack(ARGV, i + 1, i + n))
          appended = appended + 1
          i = i + n + 1
        end
        local kept, over = 0, 0
        local quarantined = tonumber(ARGV[i])
        i = i + 1
        for q = 1, quarantined do
          local size = tonumber(ARGV[i])
          local n = tonumber(ARGV[i + 1]) * 2
          local entries = tonumber(redis.call('HGET', KEYS[3], 'entries') or '0')
          local bytes = tonumber(redis.call('HGET', KEYS[3], 'bytes') or '0')
          if entries + 1 <= tonumber(ARGV[2]) and bytes + size <= tonumber(ARGV[3]) then
            redis.call('XADD', KEYS[2], '*', unpack(ARGV, i + 2, i + 1 + n))
            redis.call('HINCRBY', KEYS[3], 'entries', 1)
            redis.call('HINCRBY', KEYS[3], 'bytes', size)
            redis.call('EXPIRE', KEYS[3], ARGV[4])
            kept = kept + 1
          else
            over = over + 1
          end
          i = i + n + 2
        end
        if guard then redis.call('SET', guard, '1', 'EX', ARGV[1]) end
        return {appended, kept, over}
        """)
}
