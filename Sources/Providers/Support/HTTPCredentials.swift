import EmailEvents
import Foundation

/// Authentication for ESPs that do not sign their webhooks (Postmark, SparkPost, Brevo, Mailjet):
/// the credentials the ESP was told to send, checked in constant time.
///
/// A configured secret of the form `user:password` matches `Authorization: Basic` (the ESP's
/// "https://user:password@host/…" URL); any secret matches `Authorization: Bearer <secret>`, and,
/// for a sender that puts a key in a header of its own (an EventBridge API-key connection), the
/// value of `apiKeyHeader`.
enum HTTPCredentials {
    static func verify(_ request: WebhookRequest, credentials: SourceCredentials, apiKeyHeader: String? = nil) throws(WebhookError) {
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return }
        // A key that matches authenticates. One that does not still lets Authorization speak: a
        // proxy in front may add a header of that name for itself.
        let apiKey = apiKeyHeader.flatMap { request.headers[$0] }
        if let apiKey, matches(Array(apiKey.trimmed.utf8), credentials.secrets) { return }
        guard let header = request.headers["authorization"]?.trimmed, !header.isEmpty else {
            if apiKey != nil, let apiKeyHeader {
                throw WebhookError(.badSignature, "\(apiKeyHeader) does not match any configured secret")
            }
            let also = apiKeyHeader.map { " or \($0)" } ?? ""
            throw WebhookError(
                .missingCredentials, "no Authorization\(also) header (configure basic auth or a bearer token at the ESP)")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { throw WebhookError(.badSignature, "malformed Authorization header") }
        let scheme = parts[0].lowercased()
        let value = parts[1].trimmed
        let presented: [UInt8]
        switch scheme {
        case "basic":
            guard let decoded = Data(base64Encoded: value) else { throw WebhookError(.badSignature, "Basic credentials are not base64") }
            presented = Array(decoded)
        case "bearer":
            presented = Array(value.utf8)
        default:
            throw WebhookError(.badSignature, "unsupported Authorization scheme \(scheme)")
        }
        let candidates = scheme == "bearer" ? credentials.secrets : credentials.secrets.filter { $0.contains(":") }
        guard matches(presented, candidates) else { throw WebhookError(.badSignature, "credentials do not match any configured secret") }
    }

    /// Every secret is compared, so the time does not tell which one matched.
    private static func matches(_ presented: [UInt8], _ secrets: [String]) -> Bool {
        var matched = false
        for secret in secrets { matched = ConstantTime.equals(Array(secret.utf8), presented) || matched }
        return matched
    }
}
