import Crypto

/// A Lua script, sent by its SHA-1 (EVALSHA) so a request carries 40 bytes instead of the source
/// and Redis looks it up instead of hashing it; in full (EVAL) only when Redis answers NOSCRIPT
/// (after a restart, a failover or SCRIPT FLUSH), which also caches it again.
public struct RedisScript: Sendable {
    public let source: String
    let sha1: String

    public init(_ source: String) {
        self.source = source
        self.sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { byte in
            let digits = Array("0123456789abcdef")
            return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
        }.joined()
    }
}

extension RedisClient {
    /// Runs `script` on `keys` (its KEYS) with `arguments` (its ARGV). It goes to the first key's
    /// server; on a cluster every key must be in that key's slot.
    public func evaluate(
        _ script: RedisScript, keys: [String], arguments: [RESPArgument], acknowledgement: ReplicaAcknowledgement? = nil
    ) async throws(RedisError) -> RESPValue {
        let rest = [RESPArgument(keys.count)] + keys.map { RESPArgument($0) } + arguments
        var reply = try await send(
            [RedisCommand("EVALSHA", [RESPArgument(script.sha1)] + rest)], routedBy: keys.first, acknowledgement: acknowledgement)[0]
        if case .error(let message) = reply, message.hasPrefix("NOSCRIPT") {
            reply = try await send(
                [RedisCommand("EVAL", [RESPArgument(script.source)] + rest)], routedBy: keys.first, acknowledgement: acknowledgement)[0]
        }
        if case .error(let message) = reply { throw RedisError(.server, message) }
        return reply
    }
}
