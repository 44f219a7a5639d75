import NIOCore

extension ReplicaAcknowledgement {
    /// `WAIT replicas timeout-ms`, sent right after the write on the same connection, so it waits
    /// for that write (and whatever else the connection wrote before it).
    var command: RedisCommand {
        RedisCommand("WAIT", [RESPArgument(replicas), RESPArgument(Int(timeout.nanoseconds / 1_000_000))])
    }

    /// Removes WAIT's reply from `replies` (it is the last) and throws unless enough replicas had
    /// the write. An error reply earlier in the pipeline is left for the caller: then nothing to wait for.
    func check(_ replies: inout [RESPValue]) throws(RedisError) -> [RESPValue] {
        let reply = replies.removeLast()
        if replies.contains(where: { if case .error = $0 { true } else { false } }) { return replies }
        guard let count = reply.integer else { throw RedisError(.protocolError, "WAIT answered \(reply)") }
        guard count >= replicas else {
            throw RedisError(
                .notReplicated,
                "the write reached \(count) of the \(replicas) replica(s) asked for within \(timeout.nanoseconds / 1_000_000) ms")
        }
        return replies
    }
}
