import EmailEvents
import EventStore
import Foundation
import NIOConcurrencyHelpers
import RedisStreams
import Testing

@testable import WorkerApp

/// The lane's decisions against in-memory twins of the stream and the store: what is committed,
/// retried, isolated, dead-lettered and reclaimed, for every kind of failure.
@Suite struct ConsumerLaneTests {
    /// Every SQLSTATE class PostgreSQL documents, and what the worker does with a batch it refuses.
    @Test(arguments: [
        ("08006", EventStoreError.Code.unavailable), ("40001", .unavailable), ("40P01", .unavailable), ("53100", .unavailable),
        ("53200", .unavailable), ("57P01", .unavailable), ("57014", .unavailable), ("58030", .unavailable), ("55P03", .unavailable),
        ("28P01", .server), ("3D000", .server), ("3F000", .server), ("42P01", .server), ("42501", .server), ("42703", .server),
        ("0A000", .server), ("25P02", .server), ("55000", .server), ("XX000", .server), ("26000", .server), ("72000", .server),
        ("P0001", .server), ("HV000", .server), ("0L000", .server),
        ("22P02", .rejected), ("22001", .rejected), ("22021", .rejected), ("22P05", .rejected), ("23505", .rejected),
        ("23502", .rejected), ("54000", .rejected), ("54001", .rejected), ("2200N", .rejected), ("21000", .rejected),
    ])
    func sqlStateClasses(state: String, code: EventStoreError.Code) {
        #expect(EventStoreError.classify(state) == code, "\(state)")
        let error = EventStoreError(EventStoreError.classify(state), "x", sqlState: state)
        #expect(error.isConstraintRefusal == state.hasPrefix("23"), "\(state): only class 23 is a constraint refusal")
    }

    @Test(arguments: [[0], [500], [999], [0, 1, 2], [3, 97, 211, 333, 480, 512, 640, 777, 901, 998]])
    func poisonEventsAreIsolatedAndTheirNeighboursCommitted(poison: [Int]) async throws {
        let stream = StreamTwin(LaneFixtures.entries(1000, poison: Set(poison)))
        let store = StoreTwin(refusing: LaneFixtures.longMessageIds)
        let lane = LaneFixtures.lane(stream, store)
        try await lane.process(try await stream.read(count: 1000, blockMilliseconds: 0))

        #expect(store.stored.count == 1000 - poison.count)
        #expect(stream.dead.count == poison.count)
        #expect(Set(stream.dead.compactMap { $0["k"].map { String(decoding: $0, as: UTF8.self) } }) == Set(poison.map { "k\($0)" }))
        for dead in stream.dead {
            #expect(dead["dead_sqlstate"] == Array("54000".utf8))
            #expect(String(decoding: dead["dead_error"] ?? [], as: UTF8.self).contains("index row size"))
        }
        #expect(stream.pending.isEmpty, "every entry is settled: committed or dead-lettered")
        // Bisection, not one statement per event: about 2·k·log2(n) statements.
        let bound = 1 + 2 * poison.count * 10 + 2
        #expect(store.writes <= bound, "\(store.writes) writes for \(poison.count) poison events")
    }

    @Test func undecodableEntriesAreDeadLetteredAtOnce() async throws {
        let stream = StreamTwin(LaneFixtures.entries(10, undecodable: [4]))
        let store = StoreTwin()
        try await LaneFixtures.lane(stream, store).process(try await stream.read(count: 10, blockMilliseconds: 0))
        #expect(store.stored.count == 9 && store.writes == 1)
        #expect(stream.dead.count == 1 && stream.dead.first?["dead_original_id"] == Array("1-4".utf8))
        #expect(stream.pending.isEmpty)
    }

    /// PostgreSQL unavailable or misconfigured: nothing is acknowledged and nothing dead-lettered.
    @Test(arguments: [
        EventStoreError(.unavailable, "connection refused"), EventStoreError(.server, "relation does not exist", sqlState: "42P01"),
    ])
    func storeFailuresKeepTheBatchPending(failure: EventStoreError) async throws {
        let stream = StreamTwin(LaneFixtures.entries(20, poison: [3]))
        let store = StoreTwin()
        store.state.withLockedValue { $0.down = failure }
        let held = try await stream.read(count: 20, blockMilliseconds: 0)
        await #expect(throws: EventStoreError.self) { try await LaneFixtures.lane(stream, store).process(held) }
        #expect(stream.pending.count == 20 && stream.dead.isEmpty && stream.acknowledged.isEmpty)
    }

    /// PostgreSQL goes away while a refused batch is being isolated: the batch is retried whole
    /// later, and only the poison event ends dead-lettered.
    @Test func anOutageDuringIsolationDeadLettersNothingUntilItPasses() async throws {
        let stream = StreamTwin(LaneFixtures.entries(100, poison: [42]))
        let store = StoreTwin(refusing: LaneFixtures.longMessageIds)
        store.state.withLockedValue { $0.downAfterWrites = 3 }
        let lane = LaneFixtures.lane(stream, store)
        let held = try await stream.read(count: 100, blockMilliseconds: 0)
        await #expect(throws: EventStoreError.self) { try await lane.process(held) }
        #expect(stream.dead.isEmpty && stream.pending.count == 100)

        store.state.withLockedValue {
            $0.down = nil
            $0.downAfterWrites = nil
        }
        try await lane.process(held)
        #expect(store.stored.count == 99 && stream.dead.count == 1 && stream.pending.isEmpty)
    }

    /// Redis fails the acknowledgement after the commit: the entries stay pending, and their
    /// redelivery counts nothing twice.
    @Test func aFailedAckLeavesEntriesPendingAndTheRetryDeduplicates() async throws {
        let stream = StreamTwin(LaneFixtures.entries(10))
        let store = StoreTwin()
        let lane = LaneFixtures.lane(stream, store)
        let held = try await stream.read(count: 10, blockMilliseconds: 0)
        stream.state.withLockedValue { $0.failAck = true }
        await #expect(throws: RedisError.self) { try await lane.process(held) }
        #expect(stream.pending.count == 10 && store.stored.count == 10)
        stream.state.withLockedValue { $0.failAck = false }
        try await lane.process(held)
        #expect(stream.pending.isEmpty && store.stored.count == 10)
    }

    /// The loop itself: a batch held through an outage is retried by the lane that holds it, reading
    /// nothing new, and committed once PostgreSQL is back.
    @Test func theLaneRetriesTheBatchItHoldsThroughAnOutage() async throws {
        let stream = StreamTwin(LaneFixtures.entries(30))
        let store = StoreTwin()
        store.state.withLockedValue { $0.down = EventStoreError(.unavailable, "connection refused") }
        let lane = LaneFixtures.lane(stream, store, batchSize: 10)
        var state = ConsumerLane<StreamTwin, StoreTwin>.State(backoff: lane.policy.backoff())
        for _ in 0..<3 { await lane.turn(&state) }
        #expect(state.held.count == 10 && stream.pending.count == 10, "the held batch only, nothing more read")
        store.state.withLockedValue { $0.down = nil }
        for _ in 0..<3 { await lane.turn(&state) }
        #expect(store.stored.count == 30 && stream.pending.isEmpty)
    }

    /// Reclaimed entries delivered more than maxDeliveries times are dead-lettered while PostgreSQL
    /// answers, and kept while it does not; reclaims follow XAUTOCLAIM's cursor.
    @Test func exhaustedEntriesAreDeadLetteredOnlyWhilePostgresAnswers() async throws {
        let stream = StreamTwin(LaneFixtures.entries(5))
        let store = StoreTwin()
        let lane = LaneFixtures.lane(stream, store, batchSize: 5, maxDeliveries: 3)
        _ = try await stream.read(count: 5, blockMilliseconds: 0)  // a worker that then died
        stream.state.withLockedValue { s in
            s.deliveries["1-0"] = 3  // the next claim makes it 4 > maxDeliveries; the others 2
            s.idle = Set(s.entries.map(\.id))
        }
        store.state.withLockedValue { $0.down = EventStoreError(.unavailable, "connection refused") }
        var state = ConsumerLane<StreamTwin, StoreTwin>.State(backoff: lane.policy.backoff())
        await lane.turn(&state)
        #expect(stream.dead.isEmpty && stream.pending.count == 5, "an outage is no fault of the entry")

        store.state.withLockedValue { $0.down = nil }
        stream.state.withLockedValue { s in s.idle = Set(s.deliveries.keys) }
        state = ConsumerLane<StreamTwin, StoreTwin>.State(backoff: lane.policy.backoff())
        await lane.turn(&state)
        #expect(stream.dead.count == 1 && stream.dead.first?["dead_deliveries"] == Array("5".utf8))
        #expect(store.stored.count == 4 && stream.pending.isEmpty)
        #expect(stream.state.withLockedValue { $0.claimCursors } == ["0-0", "0-0"], "a scan that wrapped starts again at 0-0")
    }

    /// Every event refused on its own (a constraint a migration added) is a deployment error:
    /// nothing dead-lettered, the batch stays pending.
    @Test func aBatchWhoseEveryEventIsRefusedIsNotDeadLettered() async throws {
        let stream = StreamTwin(LaneFixtures.entries(40))
        let store = StoreTwin(refusing: { _ in EventStoreError(.rejected, "null value in column", sqlState: "23502") })
        let held = try await stream.read(count: 40, blockMilliseconds: 0)
        await #expect(throws: EventStoreError.self) { try await LaneFixtures.lane(stream, store).process(held) }
        #expect(stream.dead.isEmpty && stream.pending.count == 40)
    }

    /// A batch of nothing but poison (two copies of one event jsonb cannot hold, as an ESP's retry
    /// makes) is dead-lettered like one poison event among good ones: the value is at fault.
    @Test(arguments: ["22P05", "54000", "21000"])
    func aBatchOfOnlyPoisonIsDeadLettered(sqlState: String) async throws {
        let stream = StreamTwin(LaneFixtures.entries(2))
        let store = StoreTwin(refusing: { _ in EventStoreError(.rejected, "unsupported Unicode escape sequence", sqlState: sqlState) })
        let held = try await stream.read(count: 2, blockMilliseconds: 0)
        try await LaneFixtures.lane(stream, store).process(held)
        #expect(stream.dead.count == 2 && stream.pending.isEmpty)
        #expect(stream.dead.allSatisfy { $0["dead_sqlstate"] == Array(sqlState.utf8) })
    }

    /// A batch cancelled by statement_timeout is written in halves until the parts fit; a single
    /// event that still times out is retried, never dead-lettered.
    @Test func aBatchTooSlowWholeIsWrittenInHalves() async throws {
        let stream = StreamTwin(LaneFixtures.entries(100))
        let store = StoreTwin()
        store.state.withLockedValue { $0.slowAbove = 30 }
        let held = try await stream.read(count: 100, blockMilliseconds: 0)
        try await LaneFixtures.lane(stream, store).process(held)
        #expect(store.stored.count == 100 && stream.dead.isEmpty && stream.pending.isEmpty)

        let single = StreamTwin(LaneFixtures.entries(1))
        let slow = StoreTwin()
        slow.state.withLockedValue { $0.slowAbove = 0 }
        let one = try await single.read(count: 1, blockMilliseconds: 0)
        await #expect(throws: EventStoreError.self) { try await LaneFixtures.lane(single, slow).process(one) }
        #expect(single.dead.isEmpty && single.pending.count == 1)
    }

    @Test func halvesCoverTheSliceExactly() {
        for count in [0, 1, 2, 3, 10, 1001] {
            let items = Array(0..<count)[...]
            let parts = ConsumerLane<StreamTwin, StoreTwin>.halves(items)
            #expect(parts.flatMap { $0 }.sorted() == Array(items))
            #expect(parts.count == min(count, 2))
        }
    }
}
