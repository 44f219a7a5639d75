import Crypto
import Foundation

/// Standard Webhooks v1 (docs/PROVIDERS.md §12), also used by Svix and so by Resend:
/// `base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))`, the key being the base64 part of a
/// `whsec_…` secret. The signature header lists several space-separated `v1,<b64>` entries
/// (rotation); `v1a` (ed25519) entries are skipped. Headers may carry the `webhook-` or the
/// `svix-` prefix.
public enum StandardWebhooksSignature {
    /// Verifies and returns the message id (the replay nonce and the dedup key).
    static func verify(_ request: WebhookRequest, credentials: SourceCredentials, now: Date) throws(WebhookError) -> String? {
        let prefix = request.headers["webhook-id"] != nil ? "webhook-" : "svix-"
        let id = request.headers[prefix + "id"]
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return id }
        guard let id, let timestamp = request.headers[prefix + "timestamp"], let header = request.headers[prefix + "signature"] else {
            throw WebhookError(.missingCredentials, "missing webhook-id/-timestamp/-signature (or svix-) headers")
        }
        guard let seconds = Int64(timestamp) else { throw WebhookError(.badSignature, "timestamp is not an integer") }
        var signed = Array("\(id).\(timestamp).".utf8)
        signed.append(contentsOf: request.body)
        let presented = header.split(separator: " ").compactMap { entry -> Data? in
            let parts = entry.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, parts[0] == "v1" else { return nil }
            return Data(base64Encoded: String(parts[1]))
        }
        guard !presented.isEmpty else { throw WebhookError(.badSignature, "no v1 signature in the signature header") }
        let keys = credentials.secrets.compactMap(key)
        let valid = keys.contains { key in
            presented.contains { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: key) }
        }
        guard valid else { throw WebhookError(.badSignature, "no signature matches a configured secret") }
        try ReplayWindow.check(Double(seconds), window: credentials.replayWindow, now: now)
        return id
    }

    /// `whsec_<base64>` (or the bare base64) → the HMAC key; base64 padding may be missing.
    public static func key(_ secret: String) -> SymmetricKey? {
        var text = secret.hasPrefix("whsec_") ? String(secret.dropFirst(6)) : secret
        while text.count % 4 != 0 { text += "=" }
        return Data(base64Encoded: text).map { SymmetricKey(data: $0) }
    }
}
