import EmailEvents
import EventStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import PostwireConfig
import RedisStreams

@testable import WorkerApp

/// An in-memory consumer group on one stream, for one consumer: what ``LaneStream`` promises, and
/// no more. Entries are pending from the read until acknowledged or dead-lettered; `idle` marks
/// which pending entries a reclaim may take (time plays no part here).
final class StreamTwin: LaneStream, Sendable {
    struct State {
        var entries: [StreamEntry] = []
        var nextUnread = 0
        var deliveries: [String: Int64] = [:]
        var idle: Set<String> = []
        var acknowledged: [String] = []
        var dead: [[String: [UInt8]]] = []
        var failAck = false
        var claimCursors: [String] = []
    }
    let state = NIOLockedValueBox(State())

    init(_ entries: [StreamEntry] = []) {
        state.withLockedValue { $0.entries = entries }
    }

    var pending: Set<String> { Set(state.withLockedValue { $0.deliveries.keys }) }
    var dead: [[String: [UInt8]]] { state.withLockedValue { $0.dead } }
    var acknowledged: [String] { state.withLockedValue { $0.acknowledged } }

    func read(count: Int, blockMilliseconds: Int) async throws(RedisError) -> [StreamEntry] {
        state.withLockedValue { s in
            let batch = Array(s.entries[s.nextUnread..<min(s.entries.count, s.nextUnread + count)])
            s.nextUnread += batch.count
            for entry in batch { s.deliveries[entry.id] = 1 }
            return batch
        }
    }

    func claimIdle(minIdleMilliseconds: Int, cursor: String, count: Int) async throws(RedisError) -> AutoClaimResult {
        state.withLockedValue { s in
            s.claimCursors.append(cursor)
            let claimed = s.entries.filter { s.idle.contains($0.id) && s.deliveries[$0.id] != nil }.prefix(count)
            for entry in claimed {
                s.deliveries[entry.id, default: 0] += 1
                s.idle.remove(entry.id)
            }
            return AutoClaimResult(nextStart: claimed.last.map { "after-\($0.id)" } ?? "0-0", entries: Array(claimed))
        }
    }

    func deliveries(of entries: [StreamEntry]) async throws(RedisError) -> [String: Int64] {
        state.withLockedValue { s in
            Dictionary(entries.compactMap { e in s.deliveries[e.id].map { (e.id, $0) } }, uniquingKeysWith: max)
        }
    }

    func ack(_ ids: [String]) async throws(RedisError) -> Int {
        let settled: Int? = state.withLockedValue { s in
            if s.failAck { return nil }
            let settled = ids.filter { s.deliveries.removeValue(forKey: $0) != nil }
            s.acknowledged += settled
            return settled.count
        }
        guard let settled else { throw RedisError(.connectionClosed, "twin: Redis went away") }
        return settled
    }

    func deadLetter(_ entry: StreamEntry, fields: [(String, [UInt8])]) async throws(RedisError) -> Bool {
        state.withLockedValue { s in
            guard s.deliveries.removeValue(forKey: entry.id) != nil else { return false }
            s.dead.append(Dictionary(fields, uniquingKeysWith: { _, last in last }))
            return true
        }
    }
}

/// An in-memory batch store: a transaction either stores every event of the batch or, when
/// `refusal` refuses one of them (or the store is `down`), none.
final class StoreTwin: BatchStore, Sendable {
    struct State {
        var keys: Set<String> = []
        var writes = 0
        var down: EventStoreError?
        var refusal: (@Sendable (EmailEvent) -> EventStoreError?)?
        /// After this many writes the store goes down (a failure in the middle of isolating).
        var downAfterWrites: Int?
        /// A batch of more events than this is cancelled by statement_timeout (57014).
        var slowAbove: Int?
    }
    let state = NIOLockedValueBox(State())

    init(refusing refusal: (@Sendable (EmailEvent) -> EventStoreError?)? = nil) {
        state.withLockedValue { $0.refusal = refusal }
    }

    var stored: Set<String> { state.withLockedValue { $0.keys } }
    var writes: Int { state.withLockedValue { $0.writes } }

    func write(_ events: [EmailEvent]) async throws(EventStoreError) -> BatchWriteResult {
        let outcome: Result<BatchWriteResult, EventStoreError> = state.withLockedValue { s in
            s.writes += 1
            if let after = s.downAfterWrites, s.writes > after { s.down = EventStoreError(.unavailable, "twin: connection closed") }
            if let down = s.down { return .failure(down) }
            if let limit = s.slowAbove, events.count > limit {
                return .failure(EventStoreError(.unavailable, "canceling statement due to statement timeout", sqlState: "57014"))
            }
            if let refusal = s.refusal, let error = events.lazy.compactMap(refusal).first { return .failure(error) }
            let new = events.filter { s.keys.insert($0.eventKey).inserted }.count
            return .success(BatchWriteResult(stored: new, duplicates: events.count - new))
        }
        return try outcome.get()
    }

    func ping() async throws(EventStoreError) {
        if let down = state.withLockedValue({ $0.down }) { throw down }
    }

    func recordDeadLetters(_ count: Int) async throws(EventStoreError) {}
}

enum LaneFixtures {
    static func entries(_ count: Int, poison: Set<Int> = [], undecodable: Set<Int> = []) -> [StreamEntry] {
        (0..<count).map { i in
            var event = EmailEvent(
                provider: .mailgun, source: "default", type: .delivered, espEvent: "delivered", eventKey: "k\(i)",
                occurredAt: Date(timeIntervalSince1970: 1_700_000_000), receivedAt: Date(), raw: Array("{}".utf8))
            event.messageId = poison.contains(i) ? String(repeating: "x", count: 6000) : "m\(i)"
            var fields = Dictionary(StreamEntryCodec.encode(event), uniquingKeysWith: { a, _ in a })
            if undecodable.contains(i) { fields["v"] = Array("9".utf8) }
            return StreamEntry(id: "1-\(i)", fields: fields)
        }
    }

    /// Refuses what PostgreSQL refused in the field: an index row too large (SQLSTATE 54000).
    static let longMessageIds: @Sendable (EmailEvent) -> EventStoreError? = { event in
        (event.messageId?.count ?? 0) > 2000
            ? EventStoreError(.rejected, "index row size 6016 exceeds btree version 4 maximum 2704", sqlState: "54000") : nil
    }

    static func lane(
        _ stream: StreamTwin, _ store: StoreTwin, batchSize: Int = 1000, maxDeliveries: Int = 3
    )
        -> ConsumerLane<StreamTwin, StoreTwin>
    {
        var settings = WorkerSettings()
        settings.batchSize = batchSize
        settings.lingerMilliseconds = 0
        settings.claimIntervalMilliseconds = 0
        return ConsumerLane(
            stream: stream, store: store, settings: settings,
            policy: RetryPolicy(
                initialBackoff: .milliseconds(1), maxBackoff: .milliseconds(2), claimMinIdle: .seconds(1), maxDeliveries: maxDeliveries),
            campaignRule: .standard, engagement: EngagementRules(), streamName: "twin", consumer: "lane", housekeeping: nil,
            stats: WorkerStats(),
            logger: .init(label: "twin"))
    }
}
