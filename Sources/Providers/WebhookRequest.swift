import EmailEvents
import Foundation

/// What a provider sees of one HTTP request: the exact body bytes, never a re-encoding.
public struct WebhookRequest: Sendable {
    public var method: String
    /// The full URL the ESP called, as configured on its side (Mandrill signs it).
    public var url: String
    /// Header names lower-cased; a repeated header keeps its last value.
    public var headers: [String: String]
    public var body: [UInt8]
    public var receivedAt: Date

    public init(method: String = "POST", url: String = "", headers: [String: String], body: [UInt8], receivedAt: Date) {
        self.init(
            method: method, url: url,
            lowercasedHeaders: Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last }),
            body: body, receivedAt: receivedAt)
    }

    /// For callers whose header names are lower case already (the ingress: HTTP field names in
    /// canonical form), so the request path builds the dictionary once.
    public init(method: String = "POST", url: String = "", lowercasedHeaders: [String: String], body: [UInt8], receivedAt: Date) {
        self.method = method
        self.url = url
        self.headers = lowercasedHeaders
        self.body = body
        self.receivedAt = receivedAt
    }

    /// The media type without parameters, lower-cased (`application/json`).
    public var mediaType: String? {
        headers["content-type"].map {
            $0.split(separator: ";", maxSplits: 1).first.map { $0.trimmed.lowercased() } ?? ""
        }
    }
}
