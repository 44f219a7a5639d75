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

    /// Connects and, when configured, authenticates and selects the database.
    public static func connect(
        to configuration: RedisConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(RedisError) -> RedisConnection {
        let channel: any Channel
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(configuration.connectTimeout)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RedisChannelHandler())
                    }
                }
                .connect(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            throw RedisError(.connectionFailed, "cannot connect to \(configuration.host):\(configuration.port): \(error)")
        }
        let connection = RedisConnection(channel: channel, commandTimeout: configuration.commandTimeout)
        var setup: [RedisCommand] = []
        if let password = configuration.password {
            setup.append(
                RedisCommand("AUTH", configuration.username.map { [RESPArgument($0), RESPArgument(password)] } ?? [RESPArgument(password)]))
        }
        if configuration.database != 0 {
            setup.append(RedisCommand("SELECT", [RESPArgument(configuration.database)]))
        }
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
}
