/// The one error type of RedisStreams. `code` is a small closed set fit for a metric label;
/// `message` says more and never contains command arguments (they may hold secrets or events).
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// No connection could be made (refused, unreachable, DNS).
        case connectionFailed = "connection_failed"
        /// The connection closed with commands in flight; whether they ran is unknown.
        case connectionClosed = "connection_closed"
        case timeout
        /// Redis answered with an error reply (`-ERR …`, `-BUSYGROUP …`, `-NOSCRIPT …`).
        case server
        /// A reply that the protocol or the command does not allow.
        case protocolError = "protocol_error"
        /// The write ran on the master but fewer replicas than asked confirmed it in time (`WAIT`);
        /// it may still reach them. Treat as unknown, like a lost connection.
        case notReplicated = "not_replicated"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var shortDescription: String { code.rawValue }
    public var description: String { "redis \(code.rawValue): \(message)" }

    /// Redis's error prefix (`BUSYGROUP`, `NOGROUP`, `WRONGTYPE`, …) for server errors.
    public var serverErrorPrefix: String? {
        guard code == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }
}
