import EmailEvents
import Foundation
import Providers
import RedisStreams

/// `postwire replay`: moves entries from the dead-letter or quarantine stream back into the events
/// stream, each in one MULTI/EXEC (appended there, deleted here), so an entry is never lost or
/// doubled by an interrupted replay. Replayed events are counted once: the store deduplicates them.
///
/// Dead-lettered entries go back as they were. Quarantined requests were authenticated when they
/// arrived; they are normalized again by their provider (after the parser was fixed) and their
/// events appended; a request that still cannot be parsed stays in quarantine.
public struct Replayer: Sendable {
    public enum Origin: String, Sendable, CaseIterable {
        case dead
        case quarantine
    }

    public struct Filter: Sendable {
        public var provider: String?
        public var source: String?
        /// Only entries that reached the origin stream in this time range.
        public var since: Date?
        public var until: Date?
        public var limit: Int?

        public init(provider: String? = nil, source: String? = nil, since: Date? = nil, until: Date? = nil, limit: Int? = nil) {
            self.provider = provider
            self.source = source
            self.since = since
            self.until = until
            self.limit = limit
        }
    }

    public struct Outcome: Sendable, Equatable {
        public var scanned = 0
        public var matched = 0
        public var moved = 0
        public var events = 0
        /// Entries left where they were, with the reason (quarantined requests that still fail).
        public var failures: [String: String] = [:]
    }

    let redis: RedisClient
    let layout: StreamLayout
    let deadLetterStream: String
    let quarantineStream: String

    public init(redis: RedisClient, layout: StreamLayout, deadLetterStream: String, quarantineStream: String) {
        self.redis = redis
        self.layout = layout
        self.deadLetterStream = deadLetterStream
        self.quarantineStream = quarantineStream
    }

    /// Replays matching entries; `progress(scanned, total)` is called after every page. With
    /// several shards each shard's dead letters (quarantine) go back into that shard's events
    /// stream, in its slot, so the move is one MULTI on a cluster too.
    public func replay(
        from origin: Origin, filter: Filter = Filter(), dryRun: Bool = false, progress: @Sendable (Int, Int) -> Void = { _, _ in }
    ) async throws -> Outcome {
        let sources = layout.all(origin == .dead ? deadLetterStream : quarantineStream)
        var total = 0
        for source in sources { total += try await redis.xlen(source) }
        var outcome = Outcome()
        for source in sources {
            try await replay(from: source, origin: origin, filter: filter, dryRun: dryRun, total: total, into: &outcome, progress: progress)
        }
        return outcome
    }

    private func replay(
        from source: String, origin: Origin, filter: Filter, dryRun: Bool, total: Int, into outcome: inout Outcome,
        progress: @Sendable (Int, Int) -> Void
    ) async throws {
        var start = filter.since.map { "\(Int64($0.timeIntervalSince1970 * 1000))-0" } ?? "-"
        let end = filter.until.map { "\(Int64($0.timeIntervalSince1970 * 1000))-18446744073709551615" } ?? "+"
        let shard = layout.shard(ofStream: source)
        while filter.limit.map({ outcome.matched < $0 }) ?? true {
            let page = try await redis.xrange(source, start: start, end: end, count: 500)
            guard let last = page.last else { break }
            start = "(" + last.id
            for entry in page {
                outcome.scanned += 1
                guard matches(entry, filter), filter.limit.map({ outcome.matched < $0 }) ?? true else { continue }
                outcome.matched += 1
                do {
                    let fields = try origin == .dead ? [restored(entry)] : await renormalized(entry)
                    outcome.events += fields.count
                    if !dryRun {
                        try await redis.move(
                            entry.id, from: source, to: fields.map { (shard.map { layout.stream(shard: $0) } ?? target($0), $0) })
                    }
                    outcome.moved += 1
                } catch {
                    outcome.failures[entry.id] = "\(error)"
                }
            }
            progress(outcome.scanned, total)
        }
    }

    /// The events stream (shard) an entry of an unsharded dead-letter or quarantine stream belongs
    /// in, from its provider and event key.
    private func target(_ fields: RedisClient.Fields) -> String {
        let provider = fields.first { $0.0 == "p" }.map { String(decoding: $0.1, as: UTF8.self) } ?? ""
        let key = fields.first { $0.0 == "k" }.map { String(decoding: $0.1, as: UTF8.self) } ?? ""
        return layout.stream(shard: layout.shard(provider: provider, eventKey: key))
    }

    private func matches(_ entry: StreamEntry, _ filter: Filter) -> Bool {
        (filter.provider.map { entry.string("p") == $0 } ?? true) && (filter.source.map { entry.string("s") == $0 } ?? true)
    }

    /// A dead-lettered entry as it was before the worker gave up on it.
    private func restored(_ entry: StreamEntry) throws -> RedisClient.Fields {
        try DeadLetterEntry(fields: entry.fields).originalFields
    }

    /// A quarantined request normalized again, authentication skipped (it passed on arrival).
    private func renormalized(_ entry: StreamEntry) async throws -> [RedisClient.Fields] {
        let kept = try QuarantineEntry(fields: entry.fields)
        guard let provider = Provider(rawValue: kept.provider).flatMap({ ProviderRegistry.provider(for: $0) }) else {
            throw WebhookError(.malformed, "unknown provider \(kept.provider)")
        }
        var headers = kept.headers
        if !kept.contentType.isEmpty { headers["content-type"] = kept.contentType }
        let request = WebhookRequest(headers: headers, body: kept.body, receivedAt: kept.receivedAt)
        let trusted = SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true)
        let received = try await provider.receive(request, source: kept.source, credentials: trusted, now: kept.receivedAt)
        return received.events.map(StreamEntryCodec.encode)
    }
}
