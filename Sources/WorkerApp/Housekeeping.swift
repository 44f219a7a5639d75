import Logging
import RedisStreams

/// Keeps a stream's memory bounded without losing anything (docs/DESIGN.md, Redis layout):
///
/// - Trims only below the oldest entry some group still needs: its oldest pending entry, or the
///   entry after its last delivered one. `XADD … MAXLEN` would drop pending entries (docs/DEVELOPING.md, stack notes),
///   so nothing else trims.
/// - Removes consumers that have been idle for `retention` and hold nothing pending (each worker
///   process joins under a new name; without this the group lists every worker that ever ran).
struct Housekeeping {
    let redis: RedisClient
    let stream: String
    let self_: String
    let retentionMilliseconds: Int
    let logger: Logger

    func run() async throws(RedisError) {
        var floor: String? = nil
        for group in try await redis.groups(stream) {
            let pending = try await redis.pendingSummary(stream, group: group.name)
            // Everything up to last-delivered was delivered; of that, only the pending part is still needed.
            let needed = pending.count > 0 ? pending.smallestId ?? group.lastDeliveredId : Self.next(group.lastDeliveredId)
            floor = floor.map { Self.min($0, needed) } ?? needed
            for consumer in try await redis.consumers(stream, group: group.name)
            where consumer.pending == 0 && consumer.idleMilliseconds > retentionMilliseconds && consumer.name != self_ {
                // Checked again in the same step as the removal: it may have read since.
                if try await redis.deleteConsumerIfIdle(
                    stream, group: group.name, consumer: consumer.name, minIdleMilliseconds: retentionMilliseconds)
                {
                    logger.info("removed departed consumer", metadata: ["consumer": "\(consumer.name)", "group": "\(group.name)"])
                }
            }
        }
        // No group at all: nobody reads this stream yet, so nothing may be trimmed.
        guard let floor else { return }
        let removed = try await redis.trim(stream, minId: floor)
        if removed > 0 { logger.debug("trimmed acknowledged entries", metadata: ["removed": "\(removed)", "below": "\(floor)"]) }
    }

    /// The smallest id greater than `id` (`5-3` → `5-4`).
    static func next(_ id: String) -> String {
        let parts = id.split(separator: "-")
        guard parts.count == 2, let ms = UInt64(parts[0]), let seq = UInt64(parts[1]) else { return id }
        return seq == UInt64.max ? "\(ms + 1)-0" : "\(ms)-\(seq + 1)"
    }

    static func min(_ a: String, _ b: String) -> String {
        StreamEntry.compare(a, b) <= 0 ? a : b
    }
}
