/// One stream entry as read back: its id and its field/value pairs.
public struct StreamEntry: Sendable, Equatable {
    public var id: String
    /// Field names are text; values are bytes (binary-safe).
    public var fields: [String: [UInt8]]

    public init(id: String, fields: [String: [UInt8]]) {
        self.id = id
        self.fields = fields
    }

    public func string(_ field: String) -> String? {
        fields[field].map { String(decoding: $0, as: UTF8.self) }
    }

    /// `[id, [f1, v1, f2, v2, …]]`; a deleted entry still in a PEL reads as `[id, nil]`, which
    /// gives an entry with no fields.
    init(reply: RESPValue) throws(RedisError) {
        guard let pair = reply.array, pair.count == 2, let id = pair[0].string else {
            throw RedisError(.protocolError, "stream entry is not [id, fields]")
        }
        var fields: [String: [UInt8]] = [:]
        if let flat = pair[1].array {
            guard flat.count % 2 == 0 else { throw RedisError(.protocolError, "odd number of field values") }
            var index = 0
            while index < flat.count {
                guard let name = flat[index].string, let value = flat[index + 1].bytes else {
                    throw RedisError(.protocolError, "field name or value is not a string")
                }
                fields[name] = value
                index += 2
            }
        }
        self.init(id: id, fields: fields)
    }
}

/// One entry of a consumer group's pending entries list.
public struct PendingEntry: Sendable, Equatable {
    public var id: String
    public var consumer: String
    public var idleMilliseconds: Int64
    public var deliveries: Int64
}

/// `XPENDING key group` summary.
public struct PendingSummary: Sendable, Equatable {
    public var count: Int64
    public var smallestId: String?
    public var largestId: String?
    public var consumers: [String: Int64]
}

/// What `XAUTOCLAIM` answered.
public struct AutoClaimResult: Sendable {
    /// The cursor for the next call; `0-0` when the whole PEL was scanned.
    public var nextStart: String
    public var entries: [StreamEntry]
    /// Ids that were pending but no longer exist in the stream (trimmed or deleted). Redis drops
    /// them from the PEL: those events are lost to consumers, so callers should alert on them.
    public var deletedIds: [String]

    public init(nextStart: String, entries: [StreamEntry], deletedIds: [String] = []) {
        self.nextStart = nextStart
        self.entries = entries
        self.deletedIds = deletedIds
    }
}

extension StreamEntry {
    /// The time part of a stream id, in Unix milliseconds (`1700000000000-3` → 1700000000000): when
    /// the entry was appended.
    public static func milliseconds(ofId id: String) -> Int64? {
        id.split(separator: "-", maxSplits: 1).first.flatMap { Int64($0) }
    }

    /// Orders two stream ids (`ms-seq`) numerically: negative, zero or positive.
    public static func compare(_ a: String, _ b: String) -> Int {
        func parts(_ id: String) -> (UInt64, UInt64) {
            let pieces = id.split(separator: "-", maxSplits: 1)
            return (pieces.first.flatMap { UInt64($0) } ?? 0, pieces.count > 1 ? UInt64(pieces[1]) ?? 0 : 0)
        }
        let (x, y) = (parts(a), parts(b))
        return x == y ? 0 : (x < y ? -1 : 1)
    }
}
