import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Sends each pipeline to the master that owns its slot, following the cluster's redirects.
///
/// Invariant the callers keep: a pipeline's keys share one slot (Postwire's keys carry their
/// shard's hash tag, see ``StreamLayout``), and its writes are one command or one MULTI. A redirect
/// then means none of its writes ran (queued commands answer MOVED and EXEC aborts), so the whole
/// pipeline can be sent again elsewhere. A connection lost with the pipeline in flight is not
/// retried: whether it ran is unknown, and the caller decides (the ingress answers 503).
final class ClusterRouter: Sendable {
    private let configuration: RedisConfiguration
    private let seeds: [RedisNode]
    private let group: any EventLoopGroup
    private let logger: Logger

    private struct State {
        var map = SlotMap()
        var pools: [RedisNode: NodePool] = [:]
        var refreshing: Task<Void, Never>?
        var lastRefresh: NIODeadline = .distantPast
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    /// Redirects followed for one pipeline before giving up; with the backoff below, about 2 s of a
    /// cluster that answers TRYAGAIN or CLUSTERDOWN (a failover's election).
    static let maxAttempts = 10

    init(configuration: RedisConfiguration, seeds: [RedisNode], group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.seeds = seeds
        self.group = group
        self.logger = logger
    }

    func send(_ commands: [RedisCommand], slot: Int?, timeout: TimeAmount?) async throws(RedisError) -> [RESPValue] {
        var asking: RedisNode?
        var last: ClusterRedirect?
        for attempt in 0..<Self.maxAttempts {
            let node: RedisNode
            if let asking {
                node = asking
            } else if let slot {
                node = try await owner(of: slot)
            } else {
                node = try await anyMaster()
            }
            var replies: [RESPValue]
            do {
                replies = try await pool(node).send(asking == nil ? commands : [RedisCommand("ASKING")] + commands, timeout: timeout)
            } catch  where error.code == .connectionFailed && attempt < 2 {
                // Nothing was sent. The master may be gone: learn the new owner from the others.
                logger.debug("cluster node unreachable", metadata: ["node": "\(node)", "error": "\(error)"])
                await refresh(force: true, avoiding: node)
                asking = nil
                try await backoff(attempt)
                continue
            } catch {
                if error.code != .server { await refresh(force: false, avoiding: node) }
                throw error
            }
            if asking != nil { replies.removeFirst() }  // ASKING's OK
            guard let redirect = ClusterRedirect(replies: replies, from: node) else { return replies }
            last = redirect
            switch redirect {
            case .moved(let movedSlot, let target):
                state.withLockedValue { $0.map.assign(movedSlot...movedSlot, to: target) }
                // One MOVED usually means a reshard or failover moved more: learn the rest, in the background.
                Task { await self.refresh(force: false, avoiding: nil) }
                asking = nil
            case .ask(_, let target):
                asking = target
            case .tryAgain:
                asking = nil
                try await backoff(attempt)
            case .clusterDown:
                asking = nil
                try await backoff(attempt)
                await refresh(force: false, avoiding: nil)
            }
        }
        throw RedisError(.server, "CLUSTERDOWN or redirected \(Self.maxAttempts) times (last: \(last.map { "\($0)" } ?? "none"))")
    }

    /// The master that serves `slot`, as last learned (learned first if nothing is known yet).
    func owner(of slot: Int) async throws(RedisError) -> RedisNode {
        if let owner = state.withLockedValue({ $0.map.owner(of: slot) }) { return owner }
        await refresh(force: true, avoiding: nil)
        if let owner = state.withLockedValue({ $0.map.owner(of: slot) }) { return owner }
        if state.withLockedValue({ $0.map.isEmpty }) {
            throw RedisError(.connectionFailed, "no cluster node answered CLUSTER SLOTS (seeds: \(seeds))")
        }
        throw RedisError(.server, "CLUSTERDOWN no master serves slot \(slot)")
    }

    /// For keyless commands (PING, INFO): any master.
    private func anyMaster() async throws(RedisError) -> RedisNode {
        if let master = state.withLockedValue({ $0.map.masters.randomElement() }) { return master }
        await refresh(force: true, avoiding: nil)
        if let master = state.withLockedValue({ $0.map.masters.randomElement() }) { return master }
        throw RedisError(.connectionFailed, "no cluster node answered CLUSTER SLOTS (seeds: \(seeds))")
    }

    func close() async {
        let pools = state.withLockedValue { state in
            state.closed = true
            state.refreshing?.cancel()
            defer { state.pools = [:] }
            return Array(state.pools.values)
        }
        for pool in pools { await pool.close() }
    }

    private func pool(_ node: RedisNode) throws(RedisError) -> NodePool {
        let (configuration, group) = (self.configuration, self.group)
        let pool: NodePool? = state.withLockedValue { state in
            guard !state.closed else { return nil }
            if let pool = state.pools[node] { return pool }
            let pool = NodePool(node: node, configuration: configuration, purpose: .data, group: group)
            state.pools[node] = pool
            return pool
        }
        guard let pool else { throw RedisError(.connectionClosed, "client is closed") }
        return pool
    }

    /// Learns the slot map from the first node that answers: the known masters, then the seeds,
    /// `avoiding` last. Concurrent callers share one refresh; unforced ones are skipped when the
    /// map was learned less than 100 ms ago.
    private func refresh(force: Bool, avoiding: RedisNode?) async {
        let task: Task<Void, Never>? = state.withLockedValue { state in
            if let running = state.refreshing { return running }
            guard !state.closed, force || NIODeadline.now() - state.lastRefresh > .milliseconds(100) else { return nil }
            let candidates = Self.candidates(known: state.map.masters, seeds: seeds, avoiding: avoiding)
            let task = Task { await self.learn(from: candidates) }
            state.refreshing = task
            return task
        }
        await task?.value
    }

    static func candidates(known: [RedisNode], seeds: [RedisNode], avoiding: RedisNode?) -> [RedisNode] {
        var seen = Set<RedisNode>()
        let ordered = (known + seeds).filter { seen.insert($0).inserted }
        return ordered.filter { $0 != avoiding } + ordered.filter { $0 == avoiding }
    }

    private func learn(from candidates: [RedisNode]) async {
        defer { state.withLockedValue { $0.refreshing = nil } }
        for node in candidates {
            do {
                let reply = try await pool(node).send([RedisCommand("CLUSTER", ["SLOTS"])], timeout: nil)[0]
                if case .error(let message) = reply { throw RedisError(.server, message) }
                let map = try SlotMap(clusterSlots: reply, asked: node)
                guard !map.isEmpty else { continue }
                state.withLockedValue { state in
                    state.map = map
                    state.lastRefresh = .now()
                }
                return
            } catch {
                logger.debug("CLUSTER SLOTS failed", metadata: ["node": "\(node)", "error": "\(error)"])
            }
        }
        logger.warning("no cluster node answered CLUSTER SLOTS", metadata: ["tried": "\(candidates.map(\.description))"])
    }

    private func backoff(_ attempt: Int) async throws(RedisError) {
        do {
            try await Task.sleep(for: .milliseconds(min(500, 25 << attempt)))
        } catch {
            throw RedisError(.connectionClosed, "cancelled while the cluster was redirecting")
        }
    }
}
