import EmailEvents
import EventStore
import Foundation
import Logging
import PostwireConfig
import RedisStreams
import ServiceLifecycle

/// One consumer of the group on one stream. Invariants (docs/DESIGN.md guarantees 2, 3, 4 and 6):
///
/// - An entry is acknowledged only after the PostgreSQL statement that recorded it committed.
///   If the process dies anywhere before that, the entry stays pending and another worker (or this
///   one, restarted) takes it over with XAUTOCLAIM once it has been idle `claimMinIdle`.
/// - Redelivery is harmless: the store counts an event key once, however often it is written.
/// - While PostgreSQL is unavailable (or misconfigured), the lane keeps retrying the batch it holds
///   with backoff and reads nothing new, so an outage does not pull the whole stream into one
///   worker's pending list, and no event is given up on for a fault that is not its own.
/// - One event cannot stop the lane: an entry that cannot be decoded is dead-lettered at once; a
///   batch PostgreSQL refuses for its data (``EventStoreError/Code/rejected``) is split in halves
///   until the refused events stand alone, its other events are committed, and only the refused
///   ones are dead-lettered, each with the SQLSTATE and message.
/// - An entry delivered more than `maxDeliveries` times (it keeps taking its worker down) is
///   dead-lettered when it is reclaimed, but only while PostgreSQL answers.
/// - On graceful shutdown the lane stops reading, finishes the batch in hand (commit, ack) and
///   returns; nothing is deleted from the pending list.
struct ConsumerLane<Stream: LaneStream, Store: BatchStore>: Sendable {
    let stream: Stream
    let store: Store
    let settings: WorkerSettings
    let policy: RetryPolicy
    let campaignRule: CampaignRule
    let engagement: EngagementRules
    /// The stream's and this consumer's names, for dead-letter entries and logs.
    let streamName: String
    let consumer: String
    /// Trimming and partition upkeep, for the one lane per stream that does it.
    let housekeeping: (@Sendable () async -> Void)?
    let stats: WorkerStats
    let logger: Logger

    /// What the loop carries from one turn to the next.
    struct State {
        var held: [StreamEntry] = []
        var backoff: Backoff
        var nextClaim = ContinuousClock.now
        var nextHousekeeping = ContinuousClock.now
        /// XAUTOCLAIM's cursor: each reclaim continues where the last one stopped, so a long
        /// pending list is walked through rather than its first page claimed over and over.
        var claimCursor = "0-0"
    }

    func run() async {
        var state = State(backoff: policy.backoff())
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            await turn(&state)
        }
        logger.info("consumer lane stopped", metadata: ["held": "\(state.held.count)"])
    }

    /// One turn of the loop: housekeeping and reclaim when due, else a read; then the batch.
    func turn(_ state: inout State) async {
        if let housekeeping, ContinuousClock.now >= state.nextHousekeeping {
            state.nextHousekeeping = .now + .milliseconds(settings.housekeepingIntervalMilliseconds)
            await housekeeping()
        }
        do {
            if state.held.isEmpty, ContinuousClock.now >= state.nextClaim {
                state.held = try await reclaim(&state.claimCursor)
                // A full page means more may be idle: look again at once.
                if state.held.count < settings.batchSize { state.nextClaim = .now + .milliseconds(settings.claimIntervalMilliseconds) }
            }
            if state.held.isEmpty {
                state.held = try await stream.read(count: settings.batchSize, blockMilliseconds: settings.blockMilliseconds)
            }
            guard !state.held.isEmpty else { return }
            try await process(state.held)
            let full = state.held.count >= settings.batchSize
            state.held = []
            state.backoff.reset()
            // A short batch means the stream is drained: let the next one gather (see
            // `lingerMilliseconds`) rather than pay a whole transaction for a few events.
            if !full, settings.lingerMilliseconds > 0 { await pause(.milliseconds(settings.lingerMilliseconds)) }
        } catch {
            let wait = state.backoff.next()
            if state.held.isEmpty {
                logger.warning("cannot read the stream; retrying", metadata: ["error": "\(error)", "retryIn": "\(wait)"])
            } else {
                stats.batchFailed()
                logger.error(
                    "batch not processed; retrying",
                    metadata: ["error": "\(error)", "entries": "\(state.held.count)", "retryIn": "\(wait)"])
            }
            await pause(wait)
        }
    }

    /// Takes over entries that have been pending too long with any consumer (a crashed worker's),
    /// and dead-letters those delivered too often.
    private func reclaim(_ cursor: inout String) async throws -> [StreamEntry] {
        let result = try await stream.claimIdle(
            minIdleMilliseconds: policy.claimMinIdleMilliseconds, cursor: cursor, count: settings.batchSize)
        // The cursor moves on only once the claimed entries are held or settled: claiming resets
        // their idle time, so entries claimed and then dropped would wait a whole takeover time.
        defer { cursor = result.nextStart }
        if !result.deletedIds.isEmpty {
            logger.critical(
                "pending entries were deleted from the stream before processing: events lost", metadata: ["ids": "\(result.deletedIds)"])
        }
        guard !result.entries.isEmpty else { return [] }
        stats.reclaimed(result.entries.count)
        logger.warning("reclaimed idle entries", metadata: ["entries": "\(result.entries.count)"])
        let counts = try await stream.deliveries(of: result.entries)
        let exhausted = result.entries.filter { policy.isExhausted(deliveries: counts[$0.id] ?? 0) }
        guard !exhausted.isEmpty else { return result.entries }
        // If PostgreSQL is down every entry fails: that says nothing about these ones. They are
        // held and retried like the rest.
        do {
            try await store.ping()
        } catch {
            return result.entries
        }
        for entry in exhausted {
            let reason = "delivered \(counts[entry.id] ?? 0) times without being acknowledged (maxDeliveries \(policy.maxDeliveries))"
            try await deadLetter(entry, error: reason, deliveries: counts[entry.id])
        }
        let dead = Set(exhausted.map(\.id))
        return result.entries.filter { !dead.contains($0.id) }
    }

    /// Decodes, writes in one statement, then acknowledges. Throws (without acknowledging) when
    /// PostgreSQL or Redis is unavailable, or PostgreSQL refuses the deployment (`server`).
    func process(_ entries: [StreamEntry]) async throws {
        var batch: [(event: EmailEvent, entry: StreamEntry)] = []
        batch.reserveCapacity(entries.count)
        for entry in entries {
            do {
                var event = try StreamEntryCodec.decode(entry.fields)
                event.campaign = campaignRule.campaign(for: event)
                engagement.classify(&event)
                batch.append((event, entry))
            } catch {
                try await deadLetter(entry, error: "\(error)")
            }
        }
        let start = ContinuousClock.now
        do {
            let result = try await store.write(batch.map(\.event))
            stats.committed(
                batch: entries.count, stored: result.stored, duplicates: result.duplicates, commit: .now - start,
                receivedAt: batch.map(\.event.receivedAt))
            report(result.alerts)
            logger.info(
                "batch committed",
                metadata: [
                    "first": "\(batch.first?.entry.id ?? "")", "last": "\(batch.last?.entry.id ?? "")", "stored": "\(result.stored)",
                    "duplicates": "\(result.duplicates)",
                ])
        } catch {
            // (`catch where` on a typed throw crashes the 6.3 compiler: test the code inside.)
            guard Self.splits(error, count: batch.count) else { throw error }
            logger.warning(
                "batch refused for its data (or too slow whole); isolating the events refused",
                metadata: ["error": "\(error)", "entries": "\(batch.count)"])
            try await isolate(batch[...])
        }
        // Counts what this ack settled: a slow batch taken over by another worker is acked by both.
        stats.acknowledged(try await stream.ack(batch.map(\.entry.id)))
    }

    /// PostgreSQL refused `batch` for its data: writes each half on its own, splitting again what
    /// is refused, so a batch of n with k bad events takes about 2k·log₂(n) statements, the good
    /// events are committed, and each bad one is dead-lettered with PostgreSQL's reason. Anything
    /// but a data refusal (PostgreSQL went away meanwhile) is thrown: the batch is retried whole,
    /// and what was committed meanwhile deduplicates.
    ///
    /// A batch whose every event is refused on its own for a constraint (class 23: a NOT NULL or
    /// CHECK a migration added, say) is not the events' fault: nothing is dead-lettered, and the
    /// batch is retried as a deployment error. A refusal of the value itself (classes 21, 22, 54: a
    /// `\u0000` jsonb cannot hold, an index row too large) is the event's, however many of the
    /// batch share it: two copies of one poison event must not hold their lane forever.
    private func isolate(_ batch: ArraySlice<(event: EmailEvent, entry: StreamEntry)>) async throws {
        var parts = Self.halves(batch)
        var refused: [(entry: StreamEntry, error: EventStoreError)] = []
        while let part = parts.popLast() {
            do {
                let result = try await store.write(part.map(\.event))
                stats.isolated(stored: result.stored, duplicates: result.duplicates)
                report(result.alerts)
            } catch {
                if part.count > 1, Self.splits(error, count: part.count) {
                    parts += Self.halves(part)
                } else if error.code == .rejected, let bad = part.first {
                    refused.append((bad.entry, error))
                } else {
                    throw error
                }
            }
        }
        if batch.count > 1, refused.count == batch.count, refused.allSatisfy(\.error.isConstraintRefusal),
            let first = refused.first
        {
            throw EventStoreError(
                .server, "every event of the batch was refused on its own (\(first.error)): a deployment error, nothing dead-lettered",
                sqlState: first.error.sqlState)
        }
        for (entry, error) in refused {
            try await deadLetter(entry, error: "\(error)", sqlState: error.sqlState)
        }
    }

    /// Whether a failed write of `count` events is split: refused for its data, or cancelled by
    /// `statement_timeout` (57014) while it holds more than one event (a smaller one may fit).
    static func splits(_ error: EventStoreError, count: Int) -> Bool {
        error.code == .rejected || (error.sqlState == "57014" && count > 1)
    }

    static func halves<T>(_ items: ArraySlice<T>) -> [ArraySlice<T>] {
        guard items.count > 1 else { return items.isEmpty ? [] : [items] }
        let middle = items.startIndex + items.count / 2
        return [items[middle...], items[..<middle]]
    }

    private func report(_ alerts: [RaisedAlert]) {
        for alert in alerts {
            stats.alertRaised(alert.kind)
            logger.warning(
                "sending domain over its \(alert.kind == "complaint_rate" ? "complaint" : "bounce") rate threshold",
                metadata: [
                    "alert": "\(alert.kind)", "sender_domain": "\(alert.senderDomain)", "rate": "\(alert.rate)",
                    "threshold": "\(alert.threshold)", "numerator": "\(alert.numerator)", "denominator": "\(alert.denominator)",
                ])
        }
    }

    /// Moves an entry to the dead-letter stream and acknowledges it, atomically; if another consumer
    /// acknowledged it meanwhile, nothing happens.
    private func deadLetter(
        _ entry: StreamEntry, error: String, deliveries: Int64? = nil, sqlState: String? = nil
    ) async throws(RedisError) {
        let dead = DeadLetterEntry(
            original: entry.fields, error: error, sqlState: sqlState, originalId: entry.id, stream: streamName, consumer: consumer,
            deliveries: deliveries)
        guard try await stream.deadLetter(entry, fields: dead.fields) else {
            logger.info("entry already acknowledged by another consumer; not dead-lettered", metadata: ["id": "\(entry.id)"])
            return
        }
        logger.error("entry dead-lettered", metadata: ["id": "\(entry.id)", "error": "\(error)"])
        stats.deadLettered()
        // For processing_stats; only a statistic, so a failure here changes nothing else.
        try? await store.recordDeadLetters(1)
    }
}
