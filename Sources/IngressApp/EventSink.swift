import EmailEvents
import Foundation
import RedisStreams

/// Where authentic requests go. The ingress answers 2xx only after ``store(_:)`` returned
/// (docs/DESIGN.md guarantee 1).
public protocol EventSink: Sendable {
    /// Stores what one authentic request yielded in one atomic step: its events appended, its
    /// unreadable elements quarantined (within the source's budget), and its replay nonce consumed.
    /// Returns nil when the nonce was already consumed: then nothing was stored.
    func store(_ request: StoredRequest) async throws(RedisError) -> StoreOutcome?
    /// Throws when the backend is unreachable (readiness).
    func ping() async throws(RedisError)
}

/// One authentic request's outcome, as ``EventSink/store(_:)`` takes it.
public struct StoredRequest: Sendable {
    public var events: [EmailEvent]
    public var quarantine: [QuarantineEntry]
    public var replayNonce: String?
    public var nonceTTL: Int
    /// How much this source may add to the quarantine per hour; beyond it a 422 is still answered,
    /// but the body is not kept (a spent signature must not fill Redis).
    public var budget: QuarantineBudget

    public init(
        events: [EmailEvent], quarantine: [QuarantineEntry] = [], replayNonce: String? = nil, nonceTTL: Int = 0,
        budget: QuarantineBudget = .unlimited
    ) {
        self.events = events
        self.quarantine = quarantine
        self.replayNonce = replayNonce
        self.nonceTTL = nonceTTL
        self.budget = budget
    }
}

public struct QuarantineBudget: Sendable, Equatable {
    public var entriesPerHour: Int
    public var bytesPerHour: Int

    public init(entriesPerHour: Int, bytesPerHour: Int) {
        self.entriesPerHour = entriesPerHour
        self.bytesPerHour = bytesPerHour
    }

    public static let unlimited = QuarantineBudget(entriesPerHour: Int.max / 2, bytesPerHour: Int.max / 2)
}

public struct StoreOutcome: Sendable, Equatable {
    public var appended: Int
    /// Quarantine entries kept, and those not kept for the budget.
    public var quarantined: Int
    public var overBudget: Int

    public init(appended: Int, quarantined: Int = 0, overBudget: Int = 0) {
        self.appended = appended
        self.quarantined = quarantined
        self.overBudget = overBudget
    }
}

extension EventSink {
    /// Appends events alone (tests, tools): ``store(_:)`` without quarantine.
    public func append(_ events: [EmailEvent], replayNonce: String?, nonceTTL: Int) async throws(RedisError) -> Int? {
        try await store(StoredRequest(events: events, replayNonce: replayNonce, nonceTTL: nonceTTL))?.appended
    }

    /// Quarantines one entry alone (tests, tools).
    public func quarantine(_ entry: QuarantineEntry) async throws(RedisError) {
        _ = try await store(StoredRequest(events: [], quarantine: [entry]))
    }
}

/// The Redis Streams sink: one MULTI/EXEC per shard for a plain batch, one script for a request
/// with a nonce or with elements to quarantine.
public struct RedisEventSink: EventSink {
    let client: RedisClient
    let layout: StreamLayout
    let quarantineStream: String
    /// Prefix of the per-source, per-hour quarantine budget counters.
    let budgetPrefix: String
    /// Replicas that must have an append before it counts as stored (nil: the master's word).
    let acknowledgement: ReplicaAcknowledgement?

    public init(
        client: RedisClient, layout: StreamLayout, quarantineStream: String, budgetPrefix: String = "postwire:qb:",
        acknowledgement: ReplicaAcknowledgement? = nil
    ) {
        self.client = client
        self.layout = layout
        self.quarantineStream = quarantineStream
        self.budgetPrefix = budgetPrefix
        self.acknowledgement = acknowledgement
    }

    /// A guarded request goes whole to the shard its nonce hashes to, where its guard key lives.
    /// The shard must not depend on the events: a replayed Mailgun signature may carry another
    /// body, and its guard key must still be the one the first request set. An unguarded batch is split by
    /// shard; should a later shard's append fail the request gets 503 and the ESP retries all of
    /// it, and the store counts the events that did arrive once. The quarantine stream and budget
    /// counter are the shard's too (one slot for the script on a cluster): with several shards a
    /// source's hourly budget applies per shard.
    public func store(_ request: StoredRequest) async throws(RedisError) -> StoreOutcome? {
        guard request.replayNonce != nil || !request.quarantine.isEmpty else {
            return StoreOutcome(appended: try await appendSplit(request.events))
        }
        let shard =
            request.replayNonce.map(nonceShard)
            ?? request.events.first.map { layout.shard(provider: $0.provider.rawValue, eventKey: $0.eventKey) } ?? 0
        let source = request.quarantine.first.map { "\($0.provider):\($0.source)" } ?? "none"
        let hour = Int(Date().timeIntervalSince1970 / 3600)
        let reply = try await client.storeRequest(
            stream: layout.stream(shard: shard), events: request.events.map(StreamEntryCodec.encode),
            guardKey: request.replayNonce.map { layout.guardKey($0, shard: shard) }, nonceTTL: request.nonceTTL,
            quarantineStream: layout.keyed(quarantineStream, shard: shard), quarantine: request.quarantine.map(\.fields),
            budgetKey: layout.counterKey(budgetPrefix, "\(source):\(hour)", shard: shard),
            budget: (request.budget.entriesPerHour, request.budget.bytesPerHour), acknowledgement: acknowledgement)
        return reply.map { StoreOutcome(appended: $0.appended, quarantined: $0.quarantined, overBudget: $0.overBudget) }
    }

    private func nonceShard(_ nonce: String) -> Int {
        layout.shard(provider: "nonce", eventKey: nonce)
    }

    private func appendSplit(_ events: [EmailEvent]) async throws(RedisError) -> Int {
        guard layout.shards > 1 else {
            return try await client.xaddAtomically(layout.base, events.map(StreamEntryCodec.encode), acknowledgement: acknowledgement).count
        }
        var byShard: [Int: [RedisClient.Fields]] = [:]
        for event in events {
            byShard[layout.shard(provider: event.provider.rawValue, eventKey: event.eventKey), default: []].append(
                StreamEntryCodec.encode(event))
        }
        var appended = 0
        for (shard, entries) in byShard.sorted(by: { $0.key < $1.key }) {
            appended += try await client.xaddAtomically(layout.stream(shard: shard), entries, acknowledgement: acknowledgement).count
        }
        return appended
    }

    public func ping() async throws(RedisError) {
        try await client.ping()
    }
}
