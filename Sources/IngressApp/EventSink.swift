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

/// The Redis Streams sink: one MULTI/EXEC (or one guarded script) per request.
public struct RedisEventSink: EventSink {
    let client: RedisClient
    let stream: String
    let quarantineStream: String
    let guardPrefix: String

    public init(client: RedisClient, stream: String, quarantineStream: String, guardPrefix: String) {
        self.client = client
        self.stream = stream
        self.quarantineStream = quarantineStream
        self.guardPrefix = guardPrefix
    }

    public func append(_ events: [EmailEvent], replayNonce: String?, nonceTTL: Int) async throws(RedisError) -> Int? {
        let entries = events.map(StreamEntryCodec.encode)
        guard let replayNonce else {
            return try await client.xaddAtomically(stream, entries).count
        }
        let ids = try await client.xaddAtomically(stream, entries, unlessKeyExists: guardPrefix + replayNonce, ttlSeconds: nonceTTL)
        return ids?.count
    }

    public func quarantine(_ entry: QuarantineEntry) async throws(RedisError) {
        _ = try await client.xadd(quarantineStream, entry.fields)
    }

    public func ping() async throws(RedisError) {
        try await client.ping()
    }
}
