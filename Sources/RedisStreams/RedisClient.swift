import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A small fixed set of shared connections, made on first use and remade after they close, so
/// the client outlives Redis restarts without being rebuilt. Callers are spread round-robin;
/// each connection pipelines whatever its callers send.
///
/// Blocking commands (`XREADGROUP … BLOCK`) hold their connection: give them a client of their
/// own (`connections: 1`) rather than sharing one with request traffic.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let group: any EventLoopGroup
    private let logger: Logger

    private struct State {
        var slots: [Task<RedisConnection, any Error>?]
        var next = 0
        var closed = false
    }

    private let state: NIOLockedValueBox<State>

    public init(
        configuration: RedisConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "postwire.redis")
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.state = NIOLockedValueBox(State(slots: Array(repeating: nil, count: configuration.connections)))
    }

    /// Sends commands on one connection, pipelined, and returns their replies in order.
    public func send(_ commands: [RedisCommand], timeout: TimeAmount? = nil) async throws(RedisError) -> [RESPValue] {
        let connection = try await connection()
        return try await connection.send(commands, timeout: timeout)
    }

    /// Sends one command; an error reply is thrown.
    public func send(_ command: RedisCommand, timeout: TimeAmount? = nil) async throws(RedisError) -> RESPValue {
        let connection = try await connection()
        return try await connection.send(command, timeout: timeout)
    }

    /// Closes every connection. Further calls fail.
    public func close() async {
        let tasks = state.withLockedValue { state in
            state.closed = true
            defer { state.slots = state.slots.map { _ in nil } }
            return state.slots.compactMap { $0 }
        }
        for task in tasks {
            try? await task.value.close()
        }
    }

    private func connection() async throws(RedisError) -> RedisConnection {
        let (slot, task) = try pickSlot()
        do {
            let connection = try await task.value
            if connection.isActive { return connection }
        } catch {
            clear(slot, ifStill: task)
            throw (error as? RedisError) ?? RedisError(.connectionFailed, "\(error)")
        }
        // The connection died since it was made (Redis restarted): make a new one, once.
        clear(slot, ifStill: task)
        let (_, fresh) = try pickSlot(slot)
        do {
            return try await fresh.value
        } catch {
            clear(slot, ifStill: fresh)
            throw (error as? RedisError) ?? RedisError(.connectionFailed, "\(error)")
        }
    }

    /// The connection task in `slot` (or the next slot round-robin), starting one if the slot is empty.
    private func pickSlot(_ chosen: Int? = nil) throws(RedisError) -> (Int, Task<RedisConnection, any Error>) {
        let configuration = self.configuration
        let group = self.group
        let result: (Int, Task<RedisConnection, any Error>)? = state.withLockedValue { state in
            guard !state.closed else { return nil }
            let slot = chosen ?? state.next
            if chosen == nil { state.next = (state.next + 1) % state.slots.count }
            if let task = state.slots[slot] { return (slot, task) }
            let task = Task<RedisConnection, any Error> {
                try await RedisConnection.connect(to: configuration, group: group)
            }
            state.slots[slot] = task
            return (slot, task)
        }
        guard let result else { throw RedisError(.connectionClosed, "client is closed") }
        return result
    }

    private func clear(_ slot: Int, ifStill task: Task<RedisConnection, any Error>) {
        state.withLockedValue { state in
            if state.slots[slot] == task { state.slots[slot] = nil }
        }
    }
}
