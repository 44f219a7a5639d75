import EmailEvents
import Foundation

/// Authentication for ESPs that do not sign their webhooks (Postmark, SparkPost, Brevo, Mailjet):
/// the credentials the ESP was told to send, checked in constant time.
///
/// A configured secret of the form `user:password` matches `Authorization: Basic` (the ESP's
/// "https://user:password@host/…" URL); any secret matches `Authorization: Bearer <secret>`.
enum HTTPCredentials {
    static func verify(_ request: WebhookRequest, credentials: SourceCredentials) throws(WebhookError) {
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return }
        guard let header = request.headers["authorization"]?.trimmed, !header.isEmpty else {
            throw WebhookError(.missingCredentials, "no Authorization header (configure basic auth or a bearer token at the ESP)")
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
        // Every secret is compared, so the time does not tell which one matched.
        var matched = false
        for secret in credentials.secrets where scheme == "bearer" || secret.contains(":") {
            matched = ConstantTime.equals(Array(secret.utf8), presented) || matched
        }
        guard matched else { throw WebhookError(.badSignature, "credentials do not match any configured secret") }
    }
}
