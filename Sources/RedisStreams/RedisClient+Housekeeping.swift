import NIOCore

/// Stream housekeeping: groups, consumers, trimming.
extension RedisClient {
    public struct GroupInfo: Sendable, Equatable {
        public var name: String
        public var consumers: Int64
        public var pending: Int64
        public var lastDeliveredId: String
        /// Entries not yet delivered to the group (Redis ≥ 7; nil when Redis cannot tell).
        public var lag: Int64?
    }

    public struct ConsumerInfo: Sendable, Equatable {
        public var name: String
        public var pending: Int64
        public var idleMilliseconds: Int64
    }

    /// `XINFO GROUPS`: every consumer group of the stream; none when the stream does not exist
    /// yet (nothing was ever appended and no worker created its group).
    public func groups(_ stream: String) async throws(RedisError) -> [GroupInfo] {
        let reply: RESPValue
        do {
            reply = try await send(RedisCommand("XINFO", ["GROUPS", RESPArgument(stream)]))
        } catch {
            guard error.code == .server, error.message.hasPrefix("ERR no such key") else { throw error }
            return []
        }
        return (reply.array ?? []).map { item in
            let fields = Self.map(item)
            return GroupInfo(
                name: fields["name"]?.string ?? "", consumers: fields["consumers"]?.integer ?? 0, pending: fields["pending"]?.integer ?? 0,
                lastDeliveredId: fields["last-delivered-id"]?.string ?? "0-0", lag: fields["lag"]?.integer
            )
        }
    }

    /// `XINFO CONSUMERS`.
    public func consumers(_ stream: String, group: String) async throws(RedisError) -> [ConsumerInfo] {
        let reply = try await send(RedisCommand("XINFO", ["CONSUMERS", RESPArgument(stream), RESPArgument(group)]))
        return (reply.array ?? []).map { item in
            let fields = Self.map(item)
            return ConsumerInfo(
                name: fields["name"]?.string ?? "", pending: fields["pending"]?.integer ?? 0, idleMilliseconds: fields["idle"]?.integer ?? 0
            )
        }
    }

    /// `XGROUP DELCONSUMER`; returns how many entries the consumer still had pending (which are then lost
    /// to the group: call it only for consumers with none).
    @discardableResult
    public func deleteConsumer(_ stream: String, group: String, consumer: String) async throws(RedisError) -> Int {
        Int(
            try await send(RedisCommand("XGROUP", ["DELCONSUMER", RESPArgument(stream), RESPArgument(group), RESPArgument(consumer)]))
                .integer ?? 0)
    }

    /// `XTRIM stream MINID ~ id`: removes entries older than `id` (approximately: never more).
    @discardableResult
    public func trim(_ stream: String, minId: String) async throws(RedisError) -> Int {
        Int(try await send(RedisCommand("XTRIM", [RESPArgument(stream), "MINID", "~", RESPArgument(minId)])).integer ?? 0)
    }

    /// Appends each target's fields to its stream and deletes `id` from `source` in one MULTI/EXEC:
    /// an entry moves, it is never in both or neither. (On Redis Cluster the keys would have to share
    /// a slot; see the README on sharding.)
    public func move(_ id: String, from source: String, to targets: [(stream: String, fields: Fields)]) async throws(RedisError) {
        var commands = [RedisCommand("MULTI")]
        commands += targets.map { Self.xaddCommand($0.stream, $0.fields) }
        commands.append(RedisCommand("XDEL", [RESPArgument(source), RESPArgument(id)]))
        commands.append(RedisCommand("EXEC"))
        let replies = try await send(commands)
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
        var arguments: [RESPArgument] = [
            RESPArgument(Self.deadLetterScript), 2, RESPArgument(stream), RESPArgument(deadLetterStream), RESPArgument(group),
            RESPArgument(id),
        ]
        for (name, value) in fields {
            arguments.append(RESPArgument(name))
            arguments.append(RESPArgument(value))
        }
        return try await send(RedisCommand("EVAL", arguments)).integer == 1
    }

    static let deadLetterScript = """
        if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
        redis.call('XADD', KEYS[2], '*', unpack(ARGV, 3))
        return 1
        """

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
