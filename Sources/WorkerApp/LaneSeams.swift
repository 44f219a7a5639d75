import EmailEvents
import EventStore
import RedisStreams

/// The events stream as one consumer lane sees it (one stream, one group, one consumer name): the
/// I/O seam ``ConsumerLane`` is written against. ``RedisLaneStream`` in production; an in-memory
/// twin in the unit tests of the lane's decisions.
protocol LaneStream: Sendable {
    /// New entries for this consumer (XREADGROUP `>`); empty when the block timed out.
    func read(count: Int, blockMilliseconds: Int) async throws(RedisError) -> [StreamEntry]
    /// Takes over entries idle at least `minIdleMilliseconds` with any consumer (XAUTOCLAIM from
    /// `cursor`); the result's `nextStart` is the cursor to continue from (`0-0`: the scan wrapped).
    func claimIdle(minIdleMilliseconds: Int, cursor: String, count: Int) async throws(RedisError) -> AutoClaimResult
    /// How often each of these entries, pending with this consumer, has been delivered.
    func deliveries(of entries: [StreamEntry]) async throws(RedisError) -> [String: Int64]
    /// Acknowledges; returns how many were still pending.
    func ack(_ ids: [String]) async throws(RedisError) -> Int
    /// Moves one pending entry to the dead-letter stream with `fields` and acknowledges it, in one
    /// step; false when another consumer acknowledged it first.
    func deadLetter(_ entry: StreamEntry, fields: [(String, [UInt8])]) async throws(RedisError) -> Bool
}

/// What a lane needs of PostgreSQL: the batch transaction and a liveness check.
protocol BatchStore: Sendable {
    func write(_ events: [EmailEvent]) async throws(EventStoreError) -> BatchWriteResult
    func ping() async throws(EventStoreError)
    func recordDeadLetters(_ count: Int) async throws(EventStoreError)
}

extension EventStore: BatchStore {}

struct RedisLaneStream: LaneStream {
    let redis: RedisClient
    let stream: String
    let group: String
    let consumer: String
    let deadLetterStream: String

    func read(count: Int, blockMilliseconds: Int) async throws(RedisError) -> [StreamEntry] {
        try await redis.readGroup(stream, group: group, consumer: consumer, count: count, blockMilliseconds: blockMilliseconds)
    }

    func claimIdle(minIdleMilliseconds: Int, cursor: String, count: Int) async throws(RedisError) -> AutoClaimResult {
        try await redis.autoClaim(
            stream, group: group, consumer: consumer, minIdleMilliseconds: minIdleMilliseconds, start: cursor, count: count)
    }

    func deliveries(of entries: [StreamEntry]) async throws(RedisError) -> [String: Int64] {
        guard let first = entries.first, let last = entries.last else { return [:] }
        let pending = try await redis.pending(stream, group: group, start: first.id, end: last.id, count: entries.count, consumer: consumer)
        return Dictionary(pending.map { ($0.id, $0.deliveries) }, uniquingKeysWith: max)
    }

    func ack(_ ids: [String]) async throws(RedisError) -> Int {
        try await redis.ack(stream, group: group, ids: ids)
    }

    func deadLetter(_ entry: StreamEntry, fields: [(String, [UInt8])]) async throws(RedisError) -> Bool {
        try await redis.deadLetter(entry.id, in: stream, group: group, to: deadLetterStream, fields: fields)
    }
}
