import NIOCore

/// The stream commands Postwire uses, typed. Field lists are `(name, value)` pairs in order.
extension RedisClient {
    public typealias Fields = [(String, [UInt8])]

    public func ping() async throws(RedisError) {
        let reply = try await send(RedisCommand("PING"))
        guard reply.string == "PONG" else { throw RedisError(.protocolError, "PING answered \(reply)") }
    }

    /// Appends one entry; returns its id.
    public func xadd(_ stream: String, _ fields: Fields) async throws(RedisError) -> String {
        let reply = try await send(Self.xaddCommand(stream, fields), routedBy: stream)
        guard let id = reply.string else { throw RedisError(.protocolError, "XADD answered \(reply)") }
        return id
    }

    /// Appends every entry in one MULTI/EXEC round trip: all of them are in the stream, or none.
    /// With `acknowledgement`, returns only once that many replicas have them.
    public func xaddAtomically(
        _ stream: String, _ entries: [Fields], acknowledgement: ReplicaAcknowledgement? = nil
    ) async throws(RedisError) -> [String] {
        guard !entries.isEmpty else { return [] }
        var commands = [RedisCommand("MULTI")]
        commands.append(contentsOf: entries.map { Self.xaddCommand(stream, $0) })
        commands.append(RedisCommand("EXEC"))
        let replies = try await send(commands, routedBy: stream, acknowledgement: acknowledgement)
        guard case .array(let results)? = replies.last else {
            let firstError = replies.lazy.compactMap { reply -> String? in
                if case .error(let message) = reply { return message } else { return nil }
            }.first
            throw RedisError(.server, firstError ?? "EXEC did not run the transaction")
        }
        return try Self.ids(results)
    }

    /// Creates the consumer group (and the stream). Returns false if the group already existed.
    @discardableResult
    public func createGroup(_ stream: String, group: String, startId: String = "0") async throws(RedisError) -> Bool {
        do {
            _ = try await send(
                RedisCommand("XGROUP", ["CREATE", RESPArgument(stream), RESPArgument(group), RESPArgument(startId), "MKSTREAM"]),
                routedBy: stream)
            return true
        } catch  where error.serverErrorPrefix == "BUSYGROUP" {
            return false
        }
    }

    /// `XREADGROUP GROUP g c COUNT n BLOCK ms STREAMS s >`. An empty array when the block timed out.
    public func readGroup(
        _ stream: String,
        group: String,
        consumer: String,
        count: Int,
        blockMilliseconds: Int,
        id: String = ">"
    ) async throws(RedisError) -> [StreamEntry] {
        let command = RedisCommand(
            "XREADGROUP",
            [
                "GROUP", RESPArgument(group), RESPArgument(consumer), "COUNT", RESPArgument(count),
                "BLOCK", RESPArgument(blockMilliseconds), "STREAMS", RESPArgument(stream), RESPArgument(id),
            ])
        // The reply may take the whole block time: allow for it on top of the command timeout.
        let timeout = configuration.commandTimeout + .milliseconds(Int64(blockMilliseconds))
        let reply = try await send(command, routedBy: stream, timeout: timeout)
        if reply.isNull { return [] }
        guard let streams = reply.array else { throw RedisError(.protocolError, "XREADGROUP answered \(reply)") }
        var entries: [StreamEntry] = []
        for streamReply in streams {
            guard let pair = streamReply.array, pair.count == 2, let list = pair[1].array else {
                throw RedisError(.protocolError, "XREADGROUP stream reply is not [name, entries]")
            }
            for entry in list { entries.append(try StreamEntry(reply: entry)) }
        }
        return entries
    }

    /// Acknowledges entries; returns how many were pending.
    @discardableResult
    public func ack(_ stream: String, group: String, ids: [String]) async throws(RedisError) -> Int {
        guard !ids.isEmpty else { return 0 }
        let reply = try await send(
            RedisCommand("XACK", [RESPArgument(stream), RESPArgument(group)] + ids.map { RESPArgument($0) }), routedBy: stream)
        return Int(reply.integer ?? 0)
    }

    /// `XAUTOCLAIM`: takes over entries idle for at least `minIdleMilliseconds` (Redis ≥ 7 reply).
    public func autoClaim(
        _ stream: String,
        group: String,
        consumer: String,
        minIdleMilliseconds: Int,
        start: String = "0-0",
        count: Int
    ) async throws(RedisError) -> AutoClaimResult {
        let reply = try await send(
            RedisCommand(
                "XAUTOCLAIM",
                [
                    RESPArgument(stream), RESPArgument(group), RESPArgument(consumer),
                    RESPArgument(minIdleMilliseconds), RESPArgument(start), "COUNT", RESPArgument(count),
                ]), routedBy: stream)
        guard let parts = reply.array, parts.count >= 2, let next = parts[0].string, let list = parts[1].array else {
            throw RedisError(.protocolError, "XAUTOCLAIM answered \(reply)")
        }
        var entries: [StreamEntry] = []
        var deleted: [String] = []
        for item in list {
            // Redis 6.2 put deleted entries in the list as nil; Redis 7 lists them separately.
            if item.isNull { continue }
            let entry = try StreamEntry(reply: item)
            if entry.fields.isEmpty { deleted.append(entry.id) } else { entries.append(entry) }
        }
        if parts.count >= 3, let gone = parts[2].array {
            deleted.append(contentsOf: gone.compactMap(\.string))
        }
        return AutoClaimResult(nextStart: next, entries: entries, deletedIds: deleted)
    }

    public func pendingSummary(_ stream: String, group: String) async throws(RedisError) -> PendingSummary {
        let reply = try await send(RedisCommand("XPENDING", [RESPArgument(stream), RESPArgument(group)]), routedBy: stream)
        guard let parts = reply.array, parts.count == 4 else { throw RedisError(.protocolError, "XPENDING answered \(reply)") }
        var consumers: [String: Int64] = [:]
        for pair in parts[3].array ?? [] {
            if let p = pair.array, p.count == 2, let name = p[0].string, let count = p[1].integer { consumers[name] = count }
        }
        return PendingSummary(count: parts[0].integer ?? 0, smallestId: parts[1].string, largestId: parts[2].string, consumers: consumers)
    }

    /// The extended form of XPENDING: each entry with its owner, idle time and delivery count.
    public func pending(
        _ stream: String,
        group: String,
        start: String = "-",
        end: String = "+",
        count: Int,
        consumer: String? = nil
    ) async throws(RedisError) -> [PendingEntry] {
        var arguments: [RESPArgument] = [
            RESPArgument(stream), RESPArgument(group), RESPArgument(start), RESPArgument(end), RESPArgument(count),
        ]
        if let consumer { arguments.append(RESPArgument(consumer)) }
        let reply = try await send(RedisCommand("XPENDING", arguments), routedBy: stream)
        guard let list = reply.array else { throw RedisError(.protocolError, "XPENDING answered \(reply)") }
        return try list.map { item throws(RedisError) in
            guard let p = item.array, p.count == 4, let id = p[0].string, let consumer = p[1].string,
                let idle = p[2].integer, let deliveries = p[3].integer
            else { throw RedisError(.protocolError, "XPENDING entry is not [id, consumer, idle, deliveries]") }
            return PendingEntry(id: id, consumer: consumer, idleMilliseconds: idle, deliveries: deliveries)
        }
    }

    public func xlen(_ stream: String) async throws(RedisError) -> Int {
        Int(try await send(RedisCommand("XLEN", [RESPArgument(stream)]), routedBy: stream).integer ?? 0)
    }

    public func xrange(_ stream: String, start: String = "-", end: String = "+", count: Int) async throws(RedisError) -> [StreamEntry] {
        let reply = try await send(
            RedisCommand("XRANGE", [RESPArgument(stream), RESPArgument(start), RESPArgument(end), "COUNT", RESPArgument(count)]),
            routedBy: stream)
        guard let list = reply.array else { throw RedisError(.protocolError, "XRANGE answered \(reply)") }
        return try list.map { item throws(RedisError) in try StreamEntry(reply: item) }
    }

    /// Deletes keys; on a cluster they must share a slot.
    @discardableResult
    public func del(_ keys: [String]) async throws(RedisError) -> Int {
        Int(try await send(RedisCommand("DEL", keys.map { RESPArgument($0) }), routedBy: keys.first).integer ?? 0)
    }

    static func xaddCommand(_ stream: String, _ fields: Fields) -> RedisCommand {
        var arguments: [RESPArgument] = [RESPArgument(stream), "*"]
        arguments.reserveCapacity(2 + fields.count * 2)
        for (name, value) in fields {
            arguments.append(RESPArgument(name))
            arguments.append(RESPArgument(value))
        }
        return RedisCommand("XADD", arguments)
    }

    private static func ids(_ results: [RESPValue]) throws(RedisError) -> [String] {
        try results.map { result throws(RedisError) in
            switch result {
            case .error(let message): throw RedisError(.server, message)
            default:
                guard let id = result.string else { throw RedisError(.protocolError, "XADD answered \(result)") }
                return id
            }
        }
    }
}
