import NIOConcurrencyHelpers
import NIOCore

/// A small fixed set of shared connections to one server, made on first use and remade after they
/// close, so the pool outlives the server's restarts. Callers are spread round-robin; each
/// connection pipelines whatever its callers send.
final class NodePool: Sendable {
    let node: RedisNode
    private let configuration: RedisConfiguration
    private let purpose: RedisConnection.Purpose
    private let group: any EventLoopGroup

    private struct State {
        var slots: [Task<RedisConnection, any Error>?]
        var next = 0
        var closed = false
    }

    private let state: NIOLockedValueBox<State>

    init(node: RedisNode, configuration: RedisConfiguration, purpose: RedisConnection.Purpose, group: any EventLoopGroup) {
        self.node = node
        self.configuration = configuration
        self.purpose = purpose
        self.group = group
        self.state = NIOLockedValueBox(State(slots: Array(repeating: nil, count: configuration.connections)))
    }

    func send(_ commands: [RedisCommand], timeout: TimeAmount?) async throws(RedisError) -> [RESPValue] {
        try await connection().send(commands, timeout: timeout)
    }

    func close() async {
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
        // The connection died since it was made (the server restarted): make a new one, once.
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
        let (node, configuration, purpose, group) = (self.node, self.configuration, self.purpose, self.group)
        let result: (Int, Task<RedisConnection, any Error>)? = state.withLockedValue { state in
            guard !state.closed else { return nil }
            let slot = chosen ?? state.next
            if chosen == nil { state.next = (state.next + 1) % state.slots.count }
            if let task = state.slots[slot] { return (slot, task) }
            let task = Task<RedisConnection, any Error> {
                try await RedisConnection.connect(to: node, configuration: configuration, purpose: purpose, group: group)
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
