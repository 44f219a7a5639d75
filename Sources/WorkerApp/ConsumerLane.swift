import EmailEvents
import EventStore
import Foundation
import Logging
import PostwireConfig
import RedisStreams
import ServiceLifecycle

/// One consumer of the group on one stream. Invariants (DESIGN.md guarantees 2, 3, 4 and 6):
///
/// - An entry is acknowledged only after the PostgreSQL statement that recorded it committed.
///   If the process dies anywhere before that, the entry stays pending and another worker (or this
///   one, restarted) takes it over with XAUTOCLAIM once it has been idle `claimMinIdle`.
/// - Redelivery is harmless: the store counts an event key once, however often it is written.
/// - While PostgreSQL fails, the lane keeps retrying the batch it holds with backoff and reads
///   nothing new, so an outage does not pull the whole stream into one worker's pending list.
/// - An entry that cannot be decoded, or that PostgreSQL refuses on its own, goes to the
///   dead-letter stream with the error and its original id, and is then acknowledged.
/// - An entry delivered more than `maxDeliveries` times (it keeps failing, or keeps taking its
///   worker down) is dead-lettered when it is reclaimed, but only while PostgreSQL answers: an
///   outage makes every entry fail, and that is no reason to give up on any of them.
/// - On graceful shutdown the lane stops reading, finishes the batch in hand (commit, ack) and
///   returns; nothing is deleted from the pending list.
struct ConsumerLane {
    let redis: RedisClient
    let store: EventStore
    let settings: WorkerSettings
    let policy: RetryPolicy
    let campaignRule: CampaignRule
    let stream: String
    let deadLetterStream: String
    let consumer: String
    /// One lane per stream trims it and removes departed consumers.
    let housekeeps: Bool
    let stats: WorkerStats
    let logger: Logger

    func run() async {
        var backoff = policy.backoff()
        var held: [StreamEntry] = []
        var nextClaim = ContinuousClock.now
        var nextHousekeeping = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            if housekeeps, ContinuousClock.now >= nextHousekeeping {
                nextHousekeeping = .now + .milliseconds(settings.housekeepingIntervalMilliseconds)
                await housekeep()
            }
            do {
                if held.isEmpty, ContinuousClock.now >= nextClaim {
                    held = try await reclaim()
                    nextClaim = .now + .milliseconds(settings.claimIntervalMilliseconds)
                }
                if held.isEmpty {
                    held = try await redis.readGroup(
                        stream, group: settings.group, consumer: consumer,
                        count: settings.batchSize, blockMilliseconds: settings.blockMilliseconds
                    )
                }
                guard !held.isEmpty else { continue }
                try await process(held)
                let full = held.count >= settings.batchSize
                held = []
                backoff.reset()
                // A short batch means the stream is drained: let the next one gather (see
                // `lingerMilliseconds`) rather than pay a whole transaction for a few events.
                if !full, settings.lingerMilliseconds > 0 { await pause(.milliseconds(settings.lingerMilliseconds)) }
            } catch {
                let wait = backoff.next()
                if held.isEmpty {
                    logger.warning("cannot read the stream; retrying", metadata: ["error": "\(error)", "retryIn": "\(wait)"])
                } else {
                    stats.batchFailed()
                    logger.error(
                        "batch not processed; retrying", metadata: ["error": "\(error)", "entries": "\(held.count)", "retryIn": "\(wait)"])
                }
                await pause(wait)
            }
        }
        logger.info("consumer lane stopped", metadata: ["held": "\(held.count)"])
    }

    /// Takes over entries that have been pending too long with any consumer (a crashed worker's),
    /// and dead-letters those delivered too often.
    private func reclaim() async throws -> [StreamEntry] {
        let result = try await redis.autoClaim(
            stream, group: settings.group, consumer: consumer,
            minIdleMilliseconds: policy.claimMinIdleMilliseconds, count: settings.batchSize
        )
        if !result.deletedIds.isEmpty {
            logger.critical(
                "pending entries were deleted from the stream before processing: events lost", metadata: ["ids": "\(result.deletedIds)"])
        }
        guard let first = result.entries.first, let last = result.entries.last else { return [] }
        stats.reclaimed(result.entries.count)
        logger.warning("reclaimed idle entries", metadata: ["entries": "\(result.entries.count)"])
        let deliveries = try await redis.pending(
            stream, group: settings.group, start: first.id, end: last.id, count: result.entries.count, consumer: consumer)
        let counts = Dictionary(deliveries.map { ($0.id, $0.deliveries) }, uniquingKeysWith: max)
        let exhausted = result.entries.filter { policy.isExhausted(deliveries: counts[$0.id] ?? 0) }
        guard !exhausted.isEmpty else { return result.entries }
        // If PostgreSQL is down every entry fails: that says nothing about these ones.
        try await store.ping()
        for entry in exhausted {
            let reason = "delivered \(counts[entry.id] ?? 0) times without being acknowledged (maxDeliveries \(policy.maxDeliveries))"
            try await deadLetter(entry, error: reason, deliveries: counts[entry.id])
        }
        let dead = Set(exhausted.map(\.id))
        return result.entries.filter { !dead.contains($0.id) }
    }

    /// Trims what every group has acknowledged and removes departed consumers. Failures are only
    /// logged: housekeeping must never stop the worker.
    private func housekeep() async {
        do {
            // Next months' partitions exist before their events arrive.
            try await store.ensurePartitions(from: Date().addingTimeInterval(-31 * 86400), months: 4)
        } catch {
            logger.warning("partitions not checked", metadata: ["error": "\(error)"])
        }
        do {
            try await Housekeeping(
                redis: redis, stream: stream, self_: consumer, retentionMilliseconds: settings.consumerRetentionMilliseconds,
                logger: logger
            ).run()
        } catch {
            logger.warning("housekeeping failed", metadata: ["error": "\(error)"])
        }
    }

    /// Decodes, writes in one statement, then acknowledges. Throws (without acknowledging) when
    /// PostgreSQL or Redis is unavailable.
    func process(_ entries: [StreamEntry]) async throws {
        var events: [EmailEvent] = []
        var ids: [String] = []
        events.reserveCapacity(entries.count)
        for entry in entries {
            do {
                var event = try StreamEntryCodec.decode(entry.fields)
                event.campaign = campaignRule.campaign(for: event)
                events.append(event)
                ids.append(entry.id)
            } catch {
                try await deadLetter(entry, error: "\(error)")
            }
        }
        do {
            let start = ContinuousClock.now
            let result = try await store.write(events)
            stats.committed(
                batch: entries.count, stored: result.stored, duplicates: result.duplicates, commit: .now - start,
                receivedAt: events.map(\.receivedAt))
            for alert in result.alerts {
                stats.alertRaised(alert.kind)
                logger.warning(
                    "sending domain over its \(alert.kind == "complaint_rate" ? "complaint" : "bounce") rate threshold",
                    metadata: [
                        "alert": "\(alert.kind)", "sender_domain": "\(alert.senderDomain)", "rate": "\(alert.rate)",
                        "threshold": "\(alert.threshold)", "numerator": "\(alert.numerator)", "denominator": "\(alert.denominator)",
                    ])
            }
            logger.info(
                "batch committed",
                metadata: [
                    "first": "\(ids.first ?? "")", "last": "\(ids.last ?? "")", "stored": "\(result.stored)",
                    "duplicates": "\(result.duplicates)",
                ])
        } catch {
            // (`catch where` on a typed throw crashes the 6.3 compiler: test the code inside.)
            guard error.code == .rejected else { throw error }
            try await isolate(events, ids: ids, entries: entries)
        }
        // Counts what this ack settled: a slow batch taken over by another worker is acked by both.
        stats.acknowledged(try await redis.ack(stream, group: settings.group, ids: ids))
    }

    /// PostgreSQL refused the batch for its data: write event by event so one bad event does
    /// not hold back its neighbours, and dead-letter the ones refused on their own.
    private func isolate(_ events: [EmailEvent], ids: [String], entries: [StreamEntry]) async throws {
        let byId = Dictionary(entries.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for (event, id) in zip(events, ids) {
            do {
                let result = try await store.write([event])
                stats.isolated(stored: result.stored, duplicates: result.duplicates)
            } catch {
                guard error.code == .rejected else { throw error }
                if let entry = byId[id] { try await deadLetter(entry, error: "\(error)") }
            }
        }
    }

    /// Moves an entry to the dead-letter stream and acknowledges it, atomically; if another consumer
    /// acknowledged it meanwhile, nothing happens.
    private func deadLetter(_ entry: StreamEntry, error: String, deliveries: Int64? = nil) async throws(RedisError) {
        var fields: [(String, [UInt8])] = entry.fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        fields.append(("dead_error", Array(error.utf8)))
        fields.append(("dead_original_id", Array(entry.id.utf8)))
        fields.append(("dead_stream", Array(stream.utf8)))
        fields.append(("dead_consumer", Array(consumer.utf8)))
        if let deliveries { fields.append(("dead_deliveries", Array(String(deliveries).utf8))) }
        guard try await redis.deadLetter(entry.id, in: stream, group: settings.group, to: deadLetterStream, fields: fields) else {
            logger.info("entry already acknowledged by another consumer; not dead-lettered", metadata: ["id": "\(entry.id)"])
            return
        }
        logger.error("entry dead-lettered", metadata: ["id": "\(entry.id)", "error": "\(error)"])
        stats.deadLettered()
        // For processing_stats; only a statistic, so a failure here changes nothing else.
        try? await store.recordDeadLetters(1)
    }
}
