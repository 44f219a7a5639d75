import NIOCore

/// Stream housekeeping: groups, consumers, trimming.
extension RedisClient {
    public struct GroupInfo: Sendable, Equatable {
        public var name: String
        public var consumers: Int64
        public var pending: Int64
        public var lastDeliveredId: String
        /// Entries not yet delivered to the group, as Redis counts them (Redis ≥ 7; nil when Redis
        /// cannot tell). Redis's count can be stale after a restart: use ``backlog``.
        public var lag: Int64?
        /// Entries not yet delivered to the group: 0 when the group has read up to the stream's last
        /// entry, else Redis's lag bounded by the stream's length (nil when Redis cannot tell).
        /// After a restart Redis may report a lag of thousands for a fully delivered stream.
        public var backlog: Int64?
    }

    public struct ConsumerInfo: Sendable, Equatable {
        public var name: String
        public var pending: Int64
        public var idleMilliseconds: Int64
    }

    /// `XINFO GROUPS`: every consumer group of the stream; none when the stream does not exist
    /// yet (nothing was ever appended and no worker created its group).
    public func groups(_ stream: String) async throws(RedisError) -> [GroupInfo] {
        let replies = try await send(
            [
                RedisCommand("XINFO", ["GROUPS", RESPArgument(stream)]), RedisCommand("XINFO", ["STREAM", RESPArgument(stream)]),
            ], routedBy: stream)
        if case .error(let message) = replies[0] {
            guard message.hasPrefix("ERR no such key") else { throw RedisError(.server, message) }
            return []
        }
        let info = Self.map(replies[1])
        let length = info["length"]?.integer
        let lastGenerated = info["last-generated-id"]?.string
        return (replies[0].array ?? []).map { item in
            let fields = Self.map(item)
            let lastDelivered = fields["last-delivered-id"]?.string ?? "0-0"
            let lag = fields["lag"]?.integer
            let backlog: Int64? =
                if let lastGenerated, StreamEntry.compare(lastDelivered, lastGenerated) >= 0 { 0 } else {
                    lag.map { min($0, length ?? $0) }
                }
            return GroupInfo(
                name: fields["name"]?.string ?? "", consumers: fields["consumers"]?.integer ?? 0, pending: fields["pending"]?.integer ?? 0,
                lastDeliveredId: lastDelivered, lag: lag, backlog: backlog
            )
        }
    }

    /// `XINFO CONSUMERS`.
    public func consumers(_ stream: String, group: String) async throws(RedisError) -> [ConsumerInfo] {
        let reply = try await send(RedisCommand("XINFO", ["CONSUMERS", RESPArgument(stream), RESPArgument(group)]), routedBy: stream)
        return (reply.array ?? []).map { item in
            let fields = Self.map(item)
            return ConsumerInfo(
                name: fields["name"]?.string ?? "", pending: fields["pending"]?.integer ?? 0, idleMilliseconds: fields["idle"]?.integer ?? 0
            )
        }
    }

    /// Removes `consumer` from the group only if, at that moment, it holds nothing pending and has
    /// been idle at least `minIdleMilliseconds`: checked and done in one script, so a consumer
    /// that reads between a look at XINFO and XGROUP DELCONSUMER keeps its entries. True if removed.
    public func deleteConsumerIfIdle(
        _ stream: String, group: String, consumer: String, minIdleMilliseconds: Int
    ) async throws(RedisError) -> Bool {
        try await evaluate(
            Self.deleteIdleConsumerScript, keys: [stream],
            arguments: [RESPArgument(group), RESPArgument(consumer), RESPArgument(minIdleMilliseconds)]
        ).integer == 1
    }

    static let deleteIdleConsumerScript = RedisScript(
        """
        for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
          local f = {}
          for i = 1, #c, 2 do f[c[i]] = c[i + 1] end
          if f['name'] == ARGV[2] then
            if tonumber(f['pending']) == 0 and tonumber(f['idle']) >= tonumber(ARGV[3]) then
              redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
              return 1
            end
            return 0
          end
        end
        return 0
        """)

    /// `XTRIM stream MINID ~ id`: removes entries older than `id` (approximately: never more).
    @discardableResult
    public func trim(_ stream: String, minId: String) async throws(RedisError) -> Int {
        Int(
            try await send(RedisCommand("XTRIM", [RESPArgument(stream), "MINID", "~", RESPArgument(minId)]), routedBy: stream).integer ?? 0)
    }

    /// Appends each target's fields to its stream and deletes `id` from `source` in one MULTI/EXEC:
    /// an entry moves, it is never in both or neither. On a cluster every stream must share the
    /// source's slot (``StreamLayout`` names a shard's streams with one hash tag).
    public func move(_ id: String, from source: String, to targets: [(stream: String, fields: Fields)]) async throws(RedisError) {
        var commands = [RedisCommand("MULTI")]
        commands += targets.map { Self.xaddCommand($0.stream, $0.fields) }
        commands.append(RedisCommand("XDEL", [RESPArgument(source), RESPArgument(id)]))
        commands.append(RedisCommand("EXEC"))
        let replies = try await send(commands, routedBy: source)
        guard case .array(let results)? = replies.last, !results.contains(where: { if case .error = $0 { true } else { false } }) else {
            throw RedisError(.server, "moving \(id) out of \(source) failed")
        }
    }

    /// Acknowledges `id` in `stream` and, only if that acknowledged it (no other consumer did
    /// first), appends `fields` to `deadLetterStream`, in one atomic script. Two consumers that both
    /// hold an entry (one took it over while the other was slow) so dead-letter it once, and the entry
    /// is never acknowledged without being dead-lettered. Returns whether it was dead-lettered.
    public func deadLetter(
        _ id: String, in stream: String, group: String, to deadLetterStream: String, fields: Fields
    ) async throws(RedisError) -> Bool {
        var arguments: [RESPArgument] = [RESPArgument(group), RESPArgument(id)]
        for (name, value) in fields {
            arguments.append(RESPArgument(name))
            arguments.append(RESPArgument(value))
        }
        return try await evaluate(Self.deadLetterScript, keys: [stream, deadLetterStream], arguments: arguments).integer == 1
    }

    static let deadLetterScript = RedisScript(
        """
        if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
        redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
        return 1
        """)

    /// A flat `[key, value, key, value…]` reply as a dictionary.
    static func map(_ reply: RESPValue) -> [String: RESPValue] {
        let flat = reply.array ?? []
        var fields: [String: RESPValue] = [:]
        var index = 0
        while index + 1 < flat.count {
            if let key = flat[index].string { fields[key] = flat[index + 1] }
            index += 2
        }
        return fields
    }
}
