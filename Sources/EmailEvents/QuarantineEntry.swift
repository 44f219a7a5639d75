import Foundation

/// One element of an authentic request that could not be normalized, as the quarantine stream
/// keeps it, and its codec: the ingress writes ``fields``, `postwire replay --from quarantine`
/// reads them back with ``init(fields:)`` and normalizes the body again.
///
/// Layout, version 1 (every value UTF-8 text except `body`):
/// - `v`: `"1"`; a reader refuses versions it does not know.
/// - `p`, `s`: provider and source, named as in event entries so one replay filter reads both.
/// - `reason`: why normalizing failed. `content_type`: the request's declared type.
/// - `received_at`: integer microseconds since 1970.
/// - `body`: a request body of the provider holding only this element (the whole request when it
///   could not be read at all), byte for byte.
/// - `headers`: the request's headers as a JSON object, without credentials or signatures.
/// - `index`: the element's position in its request; absent for a whole request.
public struct QuarantineEntry: Sendable, Equatable {
    public static let version = "1"

    public var provider: String
    public var source: String
    public var reason: String
    public var contentType: String
    public var receivedAt: Date
    public var body: [UInt8]
    /// The request's headers, so a replay can normalize it as it arrived (Resend's event key is its
    /// `svix-id` header). Those that carry secrets are dropped when the entry is written.
    public var headers: [String: String]
    public var index: Int?

    public init(
        provider: String, source: String, reason: String, contentType: String, receivedAt: Date, body: [UInt8],
        headers: [String: String] = [:], index: Int? = nil
    ) {
        self.provider = provider
        self.source = source
        self.reason = reason
        self.contentType = contentType
        self.receivedAt = receivedAt
        self.body = body
        self.headers = headers
        self.index = index
    }

    /// Headers that carry secrets or signatures are never stored.
    public static func storable(_ headers: [String: String]) -> [String: String] {
        headers.filter { name, _ in
            let name = name.lowercased()
            return !(name.hasSuffix("authorization") || name == "cookie" || name.contains("signature") || name.hasSuffix("api-key"))
        }
    }

    /// The stream entry's fields, in a fixed order.
    public var fields: [(String, [UInt8])] {
        let headers = (try? JSONSerialization.data(withJSONObject: Self.storable(headers), options: [.sortedKeys])) ?? Data("{}".utf8)
        var fields: [(String, [UInt8])] = [
            ("v", Array(Self.version.utf8)),
            ("p", Array(provider.utf8)),
            ("s", Array(source.utf8)),
            ("reason", Array(reason.utf8)),
            ("content_type", Array(contentType.utf8)),
            ("received_at", Array(String(receivedAt.unixMicroseconds).utf8)),
            ("body", body),
            ("headers", Array(headers)),
        ]
        if let index { fields.append(("index", Array(String(index).utf8))) }
        return fields
    }

    /// Reads an entry back. Entries written before the version field existed (no `v`) are read as
    /// version 1, which they are; other versions, and entries without provider or body, are refused.
    public init(fields: [String: [UInt8]]) throws(StreamEntryCodec.DecodingError) {
        func text(_ name: String) -> String? { fields[name].map { String(decoding: $0, as: UTF8.self) } }
        let version = text("v") ?? Self.version
        guard version == Self.version else { throw .unsupportedVersion(version) }
        guard let provider = text("p") else { throw .missingField("p") }
        guard let body = fields["body"] else { throw .missingField("body") }
        let headers = fields["headers"].flatMap { try? JSONSerialization.jsonObject(with: Data($0)) } as? [String: String]
        self.init(
            provider: provider, source: text("s") ?? "default", reason: text("reason") ?? "",
            contentType: text("content_type") ?? "",
            receivedAt: text("received_at").flatMap(Int64.init).map(Date.init(unixMicroseconds:)) ?? Date(), body: body,
            headers: headers ?? [:], index: text("index").flatMap(Int.init))
    }
}
