import Logging
import NIOCore
import NIOPosix

/// One TCP connection to Redis. Safe to share: concurrent callers' commands are pipelined.
public final class RedisConnection: Sendable {
    let channel: any Channel
    private let commandTimeout: TimeAmount

    private init(channel: any Channel, commandTimeout: TimeAmount) {
        self.channel = channel
        self.commandTimeout = commandTimeout
    }

    public var isActive: Bool { channel.isActive }

    /// What a connection is for: data (authenticates, selects the database and, behind sentinels,
    /// checks that the server is still the master) or talking to a sentinel (its own credentials).
    public enum Purpose: Sendable {
        case data
        case master
        case sentinel
    }

    /// Connects to the configured standalone server and, when configured, authenticates and selects the database.
    public static func connect(
        to configuration: RedisConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(RedisError) -> RedisConnection {
        try await connect(to: configuration.node, configuration: configuration, purpose: .data, group: group)
    }

    /// Connects to `node`. `onPush` receives replies nothing asked for (a subscription's messages).
    public static func connect(
        to node: RedisNode,
        configuration: RedisConfiguration,
        purpose: Purpose,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        onPush: (@Sendable (RESPValue) -> Void)? = nil
    ) async throws(RedisError) -> RedisConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(configuration.connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RedisChannelHandler(onPush: onPush))
                    }
                }
                .connect(host: node.host, port: node.port)
                .get()
        } catch {
            throw RedisError(.connectionFailed, "cannot connect to \(node): \(error)")
        }
        let connection = RedisConnection(channel: channel, commandTimeout: configuration.commandTimeout)
        var setup: [RedisCommand] = []
        let (username, password) =
            purpose == .sentinel
            ? (configuration.sentinelUsername, configuration.sentinelPassword) : (configuration.username, configuration.password)
        if let password {
            setup.append(RedisCommand("AUTH", username.map { [RESPArgument($0), RESPArgument(password)] } ?? [RESPArgument(password)]))
        }
        if configuration.database != 0 && purpose != .sentinel {
            setup.append(RedisCommand("SELECT", [RESPArgument(configuration.database)]))
        }
        // A sentinel's answer can be stale (a failover in progress): a demoted master says so here.
        if purpose == .master { setup.append(RedisCommand("ROLE")) }
        if !setup.isEmpty {
            let replies: [RESPValue]
            do {
                replies = try await connection.send(setup)
            } catch {
                connection.close()
                throw error
            }
            for case .error(let message) in replies {
                connection.close()
                throw RedisError(.server, message)
            }
            if purpose == .master, replies.last?.array?.first?.string != "master" {
                connection.close()
                throw RedisError(.connectionFailed, "\(node) is not a master (failover in progress)")
            }
        }
        return connection
    }

    /// Sends `commands` in one write and returns their replies in order. Error replies are
    /// returned as `.error` values, not thrown: in a pipeline each command answers for itself.
    /// `timeout` overrides the configured command timeout (a blocking read needs a longer one).
    public func send(_ commands: [RedisCommand], timeout: TimeAmount? = nil) async throws(RedisError) -> [RESPValue] {
        var buffer = channel.allocator.buffer(capacity: 64 * commands.count)
        for command in commands { command.encode(into: &buffer) }
        let promise = channel.eventLoop.makePromise(of: [RESPValue].self)
        let request = RedisRequest(buffer: buffer, replyCount: commands.count, promise: promise)
        // A command that never answers means the connection is stuck: close it, which fails
        // every request in flight on it, rather than leave callers waiting.
        let channel = self.channel
        let deadline = channel.eventLoop.scheduleTask(in: timeout ?? commandTimeout) {
            channel.close(promise: nil)
        }
        channel.writeAndFlush(request).whenFailure { error in promise.fail(error) }
        do {
            let replies = try await promise.futureResult.get()
            deadline.cancel()
            return replies
        } catch let error as RedisError {
            deadline.cancel()
            throw error
        } catch {
            deadline.cancel()
            throw RedisError(.connectionClosed, "write failed: \(error)")
        }
    }

    /// Sends one command; a Redis error reply is thrown as ``RedisError/Code/server``.
    public func send(_ command: RedisCommand, timeout: TimeAmount? = nil) async throws(RedisError) -> RESPValue {
        let reply = try await send([command], timeout: timeout)[0]
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }

    public func close() {
        channel.close(promise: nil)
    }

    /// Returns once the connection has closed, for whatever reason.
    public func closed() async {
        try? await channel.closeFuture.get()
    }
}
