import EmailEvents
import Foundation
import RedisStreams

/// Where accepted events go. The ingress answers 2xx only after ``append(_:replayNonce:nonceTTL:)``
/// returned (DESIGN.md guarantee 1).
public protocol EventSink: Sendable {
    /// Appends every event atomically. With a nonce: only if the nonce was not seen within its TTL;
    /// returns `nil` when it was (nothing appended).
    func append(_ events: [EmailEvent], replayNonce: String?, nonceTTL: Int) async throws(RedisError) -> Int?
    /// Keeps an authentic request whose events could not be parsed, with the reason.
    func quarantine(_ entry: QuarantineEntry) async throws(RedisError)
    /// Throws when the backend is unreachable (readiness).
    func ping() async throws(RedisError)
}

public struct QuarantineEntry: Sendable {
    public var provider: String
    public var source: String
    public var reason: String
    public var contentType: String
    public var receivedAt: Date
    public var body: [UInt8]
    /// The request's headers without credentials, so a replay can normalize it as it arrived
    /// (Resend's event key is its `svix-id` header).
    public var headers: [String: String]

    public init(
        provider: String, source: String, reason: String, contentType: String, receivedAt: Date, body: [UInt8],
        headers: [String: String] = [:]
    ) {
        self.provider = provider
        self.source = source
        self.reason = reason
        self.contentType = contentType
        self.receivedAt = receivedAt
        self.body = body
        self.headers = headers
    }

    /// Headers that carry secrets or signatures are never stored.
    static func storable(_ headers: [String: String]) -> [String: String] {
        headers.filter { name, _ in !(name == "authorization" || name == "cookie" || name.contains("signature")) }
    }

    var fields: [(String, [UInt8])] {
        [
            ("v", Array("1".utf8)),
            ("p", Array(provider.utf8)),
            ("s", Array(source.utf8)),
            ("reason", Array(reason.utf8)),
            ("content_type", Array(contentType.utf8)),
            ("received_at", Array(String(receivedAt.unixMicroseconds).utf8)),
            ("body", body),
            (
                "headers",
                Array((try? JSONSerialization.data(withJSONObject: Self.storable(headers), options: [.sortedKeys])) ?? Data("{}".utf8))
            ),
        ]
    }
}

/// The Redis Streams sink: one MULTI/EXEC (or one guarded script) per request and shard.
public struct RedisEventSink: EventSink {
    let client: RedisClient
    let layout: StreamLayout
    let quarantineStream: String

    public init(client: RedisClient, layout: StreamLayout, quarantineStream: String) {
        self.client = client
        self.layout = layout
        self.quarantineStream = quarantineStream
    }

    /// A guarded request (one nonce: a Mailgun token, a Standard Webhooks id) goes whole to the shard
    /// of its first event, with its guard key in the same hash slot. An unguarded batch is split by
    /// shard; should a later shard's append fail the request gets 503 and the ESP retries all of it,
    /// and the store counts the events that did arrive once.
    public func append(_ events: [EmailEvent], replayNonce: String?, nonceTTL: Int) async throws(RedisError) -> Int? {
        if let replayNonce {
            let shard = events.first.map { layout.shard(provider: $0.provider.rawValue, eventKey: $0.eventKey) } ?? 0
            let ids = try await client.xaddAtomically(
                layout.stream(shard: shard), events.map(StreamEntryCodec.encode),
                unlessKeyExists: layout.guardKey(replayNonce, shard: shard), ttlSeconds: nonceTTL)
            return ids?.count
        }
        guard layout.shards > 1 else {
            return try await client.xaddAtomically(layout.base, events.map(StreamEntryCodec.encode)).count
        }
        var byShard: [Int: [RedisClient.Fields]] = [:]
        for event in events {
            byShard[layout.shard(provider: event.provider.rawValue, eventKey: event.eventKey), default: []].append(
                StreamEntryCodec.encode(event))
        }
        var appended = 0
        for (shard, entries) in byShard.sorted(by: { $0.key < $1.key }) {
            appended += try await client.xaddAtomically(layout.stream(shard: shard), entries).count
        }
        return appended
    }

    public func quarantine(_ entry: QuarantineEntry) async throws(RedisError) {
        _ = try await client.xadd(quarantineStream, entry.fields)
    }

    public func ping() async throws(RedisError) {
        try await client.ping()
    }
}
