/// What Redis Cluster answers instead of running a command that belongs elsewhere, and the slot
/// map it publishes. Pure: parsed from replies, tested without a cluster.
enum ClusterRedirect: Equatable {
    /// The slot lives on another master for good: update the map and go there.
    case moved(slot: Int, to: RedisNode)
    /// The slot is being migrated and this key is already on the target: ask it once, with ASKING.
    case ask(slot: Int, to: RedisNode)
    /// A multi-key command while its slot migrates, or a failover in progress: retry shortly.
    case tryAgain
    case clusterDown

    /// The first redirect among `replies`, nil when there is none. `from` fills in an address
    /// Redis left empty (`MOVED 3999 :6380` when it does not know the host the client used).
    init?(replies: [RESPValue], from node: RedisNode) {
        for reply in replies {
            guard case .error(let message) = reply else { continue }
            if let redirect = Self(message: message, from: node) {
                self = redirect
                return
            }
        }
        return nil
    }

    init?(message: String, from node: RedisNode) {
        let parts = message.split(separator: " ")
        switch parts.first {
        case "MOVED", "ASK":
            // `host:port`, split at the last colon: Redis writes IPv6 addresses without brackets.
            guard parts.count >= 3, let slot = Int(parts[1]), (0..<HashSlot.count).contains(slot),
                let colon = parts[2].lastIndex(of: ":"), let port = Int(parts[2][parts[2].index(after: colon)...]),
                (1...65535).contains(port)
            else { return nil }
            let host = parts[2][..<colon]
            let target = RedisNode(host: host.isEmpty || host == "?" ? node.host : String(host), port: port)
            self = parts[0] == "MOVED" ? .moved(slot: slot, to: target) : .ask(slot: slot, to: target)
        case "TRYAGAIN": self = .tryAgain
        case "CLUSTERDOWN": self = .clusterDown
        default: return nil
        }
    }
}

/// Which master owns each of the 16384 slots.
struct SlotMap: Sendable, Equatable {
    private(set) var masters: [RedisNode] = []
    /// Index into `masters` per slot; -1 where no master serves the slot.
    private var owners = [Int16](repeating: -1, count: HashSlot.count)

    init() {}

    func owner(of slot: Int) -> RedisNode? {
        let index = owners[slot]
        return index < 0 ? nil : masters[Int(index)]
    }

    var isEmpty: Bool { masters.isEmpty }

    mutating func assign(_ slots: ClosedRange<Int>, to node: RedisNode) {
        let index: Int
        if let known = masters.firstIndex(of: node) {
            index = known
        } else {
            masters.append(node)
            index = masters.count - 1
        }
        for slot in slots where (0..<HashSlot.count).contains(slot) { owners[slot] = Int16(index) }
    }

    /// From `CLUSTER SLOTS`: `[[start, end, [host, port, id, …], replicas…], …]`. An empty host
    /// (or `?`) means "the node you asked"; `asked` fills it in.
    init(clusterSlots reply: RESPValue, asked: RedisNode) throws(RedisError) {
        guard let ranges = reply.array else { throw RedisError(.protocolError, "CLUSTER SLOTS answered \(reply)") }
        for range in ranges {
            guard let parts = range.array, parts.count >= 3, let start = parts[0].integer, let end = parts[1].integer,
                start >= 0, end >= start, end < HashSlot.count, let master = parts[2].array, master.count >= 2,
                let host = master[0].string, let port = master[1].integer, (1...65535).contains(port)
            else { throw RedisError(.protocolError, "CLUSTER SLOTS range is not [start, end, [host, port, …], …]") }
            let node = RedisNode(host: host.isEmpty || host == "?" ? asked.host : host, port: Int(port))
            assign(Int(start)...Int(end), to: node)
        }
    }
}
