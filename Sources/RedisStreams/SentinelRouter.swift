import Logging
import NIOConcurrencyHelpers
import NIOCore

/// Sends everything to the master the sentinels name, and follows it across failovers: the
/// sentinels' `+switch-master` announcements move the client at once, and a master that cannot be
/// reached, or answers READONLY (it was demoted), sends the client back to the sentinels.
final class SentinelRouter: Sendable {
    private let configuration: RedisConfiguration
    private let masterName: String
    private let sentinels: [RedisNode]
    private let group: any EventLoopGroup
    private let logger: Logger

    private struct State {
        var master: NodePool?
        var discovering: Task<NodePool, any Error>?
        var watcher: Task<Void, Never>?
        var closed = false
    }

    private let state = NIOLockedValueBox(State())

    /// Rediscoveries for one pipeline; with the backoff, about 3 s of a failover.
    static let maxAttempts = 6

    init(configuration: RedisConfiguration, masterName: String, sentinels: [RedisNode], group: any EventLoopGroup, logger: Logger) {
        self.configuration = configuration
        self.masterName = masterName
        self.sentinels = sentinels
        self.group = group
        self.logger = logger
    }

    func send(_ commands: [RedisCommand], timeout: TimeAmount?) async throws(RedisError) -> [RESPValue] {
        var lastError = RedisError(.connectionFailed, "no master for \(masterName)")
        for attempt in 0..<Self.maxAttempts {
            let pool: NodePool
            do {
                pool = try await master()
            } catch {
                lastError = error
                try await backoff(attempt)
                continue
            }
            let replies: [RESPValue]
            do {
                replies = try await pool.send(commands, timeout: timeout)
            } catch  where error.code == .connectionFailed {
                // Nothing was sent: the master is gone or was demoted; ask the sentinels again.
                lastError = error
                forget(pool)
                try await backoff(attempt)
                continue
            } catch {
                forget(pool)
                throw error
            }
            // A demoted master refuses writes before running them (queued commands, a script's
            // first write): nothing ran, so the pipeline may go to the new master.
            if replies.contains(where: { if case .error(let message) = $0 { message.hasPrefix("READONLY") } else { false } }) {
                lastError = RedisError(.server, "READONLY: \(pool.node) is no longer the master")
                forget(pool)
                try await backoff(attempt)
                continue
            }
            return replies
        }
        throw lastError
    }

    /// The master's address, as last learned.
    func currentMaster() async throws(RedisError) -> RedisNode {
        try await master().node
    }

    func close() async {
        let (master, watcher) = state.withLockedValue { state in
            state.closed = true
            defer {
                state.master = nil
                state.watcher = nil
            }
            return (state.master, state.watcher)
        }
        watcher?.cancel()
        await master?.close()
    }

    /// The current master's pool; while there is none, one discovery that every caller awaits.
    private func master() async throws(RedisError) -> NodePool {
        enum Found {
            case master(NodePool)
            case discovering(Task<NodePool, any Error>)
            case closed
        }
        let found: Found = state.withLockedValue { state in
            guard !state.closed else { return .closed }
            if state.watcher == nil { state.watcher = Task { await self.watch() } }
            if let master = state.master { return .master(master) }
            if let running = state.discovering { return .discovering(running) }
            let task = Task<NodePool, any Error> { try await self.discover() }
            state.discovering = task
            return .discovering(task)
        }
        switch found {
        case .master(let pool): return pool
        case .closed: throw RedisError(.connectionClosed, "client is closed")
        case .discovering(let task):
            do {
                return try await task.value
            } catch {
                throw (error as? RedisError) ?? RedisError(.connectionFailed, "\(error)")
            }
        }
    }

    /// Asks each sentinel in turn for the master's address.
    private func discover() async throws(RedisError) -> NodePool {
        defer { state.withLockedValue { $0.discovering = nil } }
        var failures: [String] = []
        for sentinel in sentinels {
            do {
                let connection = try await RedisConnection.connect(
                    to: sentinel, configuration: configuration, purpose: .sentinel, group: group)
                defer { connection.close() }
                let reply = try await connection.send(RedisCommand("SENTINEL", ["GET-MASTER-ADDR-BY-NAME", RESPArgument(masterName)]))
                guard let parts = reply.array, parts.count == 2, let host = parts[0].string, let port = parts[1].integer.map(Int.init)
                else {
                    failures.append("\(sentinel): does not know \(masterName)")
                    continue
                }
                return adopt(RedisNode(host: host, port: port))
            } catch {
                failures.append("\(sentinel): \(error)")
            }
        }
        throw RedisError(.connectionFailed, "no sentinel named the master of \(masterName): \(failures.joined(separator: "; "))")
    }

    /// Makes `node` the master, closing the previous master's connections if it was another.
    private func adopt(_ node: RedisNode) -> NodePool {
        let (configuration, group) = (self.configuration, self.group)
        let (pool, old): (NodePool, NodePool?) = state.withLockedValue { state in
            if let master = state.master, master.node == node { return (master, nil) }
            let pool = NodePool(node: node, configuration: configuration, purpose: .master, group: group)
            defer { state.master = pool }
            return (pool, state.master)
        }
        if let old {
            logger.info("following the new master", metadata: ["master": "\(masterName)", "from": "\(old.node)", "to": "\(node)"])
            Task { await old.close() }
        }
        return pool
    }

    private func forget(_ pool: NodePool) {
        let forgotten = state.withLockedValue { state in
            guard state.master === pool else { return false }
            state.master = nil
            return true
        }
        if forgotten { Task { await pool.close() } }
    }

    /// Subscribes to `+switch-master` at one sentinel after another, for as long as the client lives.
    private func watch() async {
        var index = 0
        while !Task.isCancelled {
            let sentinel = sentinels[index % sentinels.count]
            index += 1
            do {
                let name = masterName
                let connection = try await RedisConnection.connect(
                    to: sentinel, configuration: configuration, purpose: .sentinel, group: group,
                    onPush: { [weak self] push in
                        guard let parts = push.array, parts.count == 3, parts[0].string == "message",
                            let words = parts[2].string?.split(separator: " "), words.count == 5, words[0] == name,
                            let port = Int(words[4])
                        else { return }
                        _ = self?.adopt(RedisNode(host: String(words[3]), port: port))
                    })
                _ = try await connection.send(RedisCommand("SUBSCRIBE", ["+switch-master"]))
                await withTaskCancellationHandler {
                    await connection.closed()
                } onCancel: {
                    connection.close()
                }
            } catch {
                logger.debug("sentinel subscription failed", metadata: ["sentinel": "\(sentinel)", "error": "\(error)"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    private func backoff(_ attempt: Int) async throws(RedisError) {
        do {
            try await Task.sleep(for: .milliseconds(min(1000, 50 << attempt)))
        } catch {
            throw RedisError(.connectionClosed, "cancelled while looking for the master")
        }
    }
}
