/// Names of the events stream(s) and replay-guard keys (docs/DESIGN.md, Redis layout).
///
/// With one shard the events stream is `base` (`postwire:events`). With `shards` > 1 it is
/// `base:{0}` … `base:{n-1}`: the braces are Redis Cluster hash tags, and a replay-guard key carries
/// its shard's tag (`postwire:seen:{3}:…`), so the guarded append, a Lua script that touches the
/// guard key and the stream, always addresses keys of one slot. A request without a replay nonce
/// puts each event in the shard its provider and event key hash to; a request with one goes whole
/// to the nonce's shard, with its guard. Copies of an event may so land in different shards, which
/// costs nothing: duplicates are told apart in PostgreSQL, not by where they are read.
public struct StreamLayout: Sendable, Equatable {
    public let base: String
    public let shards: Int
    public let guardPrefix: String

    public init(base: String, shards: Int = 1, guardPrefix: String) {
        self.base = base
        self.shards = max(1, shards)
        self.guardPrefix = guardPrefix
    }

    /// Every events stream, in shard order.
    public var streams: [String] {
        shards == 1 ? [base] : (0..<shards).map { "\(base):{\($0)}" }
    }

    public func stream(shard: Int) -> String {
        keyed(base, shard: shard)
    }

    /// A per-shard companion of the events stream (dead letters, quarantine): `name` with one shard,
    /// else `name:{shard}`, in the shard's hash slot, so a script may touch it and the shard's stream
    /// together on a cluster.
    public func keyed(_ name: String, shard: Int) -> String {
        shards == 1 ? name : "\(name):{\(shard)}"
    }

    /// Every stream of a companion, to read: each shard's, and with shards the unsharded `name` too,
    /// where a deployment that once ran with one shard left its entries.
    public func all(_ name: String) -> [String] {
        shards == 1 ? [name] : (0..<shards).map { keyed(name, shard: $0) } + [name]
    }

    /// The shard a stream named by ``stream(shard:)`` or ``keyed(_:shard:)`` belongs to; nil for an
    /// unsharded name.
    public func shard(ofStream name: String) -> Int? {
        guard shards > 1, name.hasSuffix("}"), let open = name.lastIndex(of: "{") else { return nil }
        return Int(name[name.index(after: open)..<name.index(before: name.endIndex)]).flatMap { (0..<shards).contains($0) ? $0 : nil }
    }

    /// A per-shard counter key: `prefix` + (with shards, `{shard}:`) + `rest`.
    public func counterKey(_ prefix: String, _ rest: String, shard: Int) -> String {
        shards == 1 ? prefix + rest : "\(prefix){\(shard)}:\(rest)"
    }

    /// The shard of an event, from its provider and event key (FNV-1a, 64 bit: stable across
    /// processes and versions, unlike `Hasher`).
    public func shard(provider: String, eventKey: String) -> Int {
        guard shards > 1 else { return 0 }
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in provider.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ UInt64(UInt8(ascii: ":"))) &* 0x100_0000_01b3
        for byte in eventKey.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return Int(hash % UInt64(shards))
    }

    /// The replay-guard key for a nonce appended to `shard`: in that shard's hash slot.
    public func guardKey(_ nonce: String, shard: Int) -> String {
        guard shards > 1 else {
            // A single stream that carries a hash tag of its own shares it with its guard keys.
            return guardPrefix + (Self.hashTag(of: base).map { "{\($0)}:" } ?? "") + nonce
        }
        return guardPrefix + "{\(shard)}:" + nonce
    }

    /// The part of a key Redis Cluster hashes (``HashSlot``), if it has a tag.
    static func hashTag(of key: String) -> Substring? {
        HashSlot.tagRange(in: key.utf8).map { Substring(key.utf8[$0]) }
    }
}
