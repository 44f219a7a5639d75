import Crypto
import Foundation
import WebhookSigning

/// Standard Webhooks v1 (docs/PROVIDERS.md §12), also used by Svix and so by Resend. The signed
/// content is `"{id}.{timestamp}.{body}"`; the signature header lists several space-separated
/// entries (rotation), each `v1,<base64 HMAC-SHA256>` under a `whsec_…` secret or
/// `v1a,<base64 Ed25519 signature>` under a `whpk_…` public key (§12.x). A source's secrets may
/// mix both kinds, so a sender can move from symmetric to asymmetric keys without a gap; an entry
/// of another version is skipped. Headers may carry the `webhook-` or the `svix-` prefix.
public enum StandardWebhooksSignature {
    /// Signature entries looked at per request.
    static let maxEntries = 10
    static let minimumSecretBytes = StandardWebhooksHMAC.minimumSecretBytes

    /// Verifies and returns the message id (the replay nonce and the dedup key).
    static func verify(_ request: WebhookRequest, credentials: SourceCredentials, now: Date) throws(WebhookError) -> String? {
        let prefix = request.headers["webhook-id"] != nil ? "webhook-" : "svix-"
        let id = request.headers[prefix + "id"]
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return id }
        guard let id, let timestamp = request.headers[prefix + "timestamp"], let header = request.headers[prefix + "signature"] else {
            throw WebhookError(.missingCredentials, "missing webhook-id/-timestamp/-signature (or svix-) headers")
        }
        guard let seconds = Int64(timestamp) else { throw WebhookError(.badSignature, "timestamp is not an integer") }
        // The window first, as the reference libraries do: a stale request costs no hashing.
        try ReplayWindow.check(Double(seconds), window: credentials.replayWindow, now: now)
        let signed = StandardWebhooksHMAC.signedContent(id: id, timestamp: timestamp, body: request.body)
        // Each entry costs a pass over the whole body, so only the first few count; a sender lists
        // one per secret it signs with (two while rotating).
        let entries = header.split(separator: " ").prefix(Self.maxEntries).compactMap(Entry.init)
        guard !entries.isEmpty else { throw WebhookError(.badSignature, "no v1 or v1a signature in the signature header") }
        let keys = Keys(credentials.secrets)
        let macs = keys.symmetric.map { StandardWebhooksHMAC.mac(signed, key: $0) }
        let valid = entries.contains { entry in
            switch entry {
            case .v1(let mac): macs.contains { ConstantTime.equals($0, mac) }
            case .v1a(let signature): keys.public.contains { $0.isValidSignature(signature, for: signed) }
            }
        }
        guard valid else { throw WebhookError(.badSignature, "no signature matches a configured secret or public key") }
        return id
    }

    /// `whpk_<base64 of the 32-byte Ed25519 public key>` → the key; nil for anything else.
    public static func publicKey(_ secret: String) -> Curve25519.Signing.PublicKey? {
        guard secret.hasPrefix("whpk_"), let raw = StandardWebhooksHMAC.base64(String(secret.dropFirst(5))), raw.count == 32 else {
            return nil
        }
        return try? Curve25519.Signing.PublicKey(rawRepresentation: raw)
    }

    /// Why a configured secret can never verify anything (said at startup), or nil.
    public static func unusable(_ secret: String) -> String? {
        if secret.hasPrefix("whpk_") {
            return publicKey(secret) == nil ? "a whpk_ key must be the base64 of a 32-byte Ed25519 public key" : nil
        }
        if secret.hasPrefix("whsk_") { return "whsk_ is the sender's private key: configure its public key (whpk_…)" }
        guard let key = StandardWebhooksHMAC.key(secret) else { return "not a whsec_ secret (base64 after the prefix)" }
        return key.bitCount / 8 < minimumSecretBytes ? "shorter than \(minimumSecretBytes) bytes: anyone could guess it" : nil
    }

    /// One entry of the signature header.
    private enum Entry {
        case v1(Data)
        case v1a(Data)

        init?(_ text: Substring) {
            let parts = text.split(separator: ",", maxSplits: 1)
            guard parts.count == 2, let value = Data(base64Encoded: String(parts[1])) else { return nil }
            switch parts[0] {
            case "v1": self = .v1(value)
            case "v1a": self = .v1a(value)
            default: return nil
            }
        }
    }

    /// A source's secrets by kind: `whpk_` public keys verify `v1a`, everything else is an HMAC key.
    private struct Keys {
        var symmetric: [SymmetricKey] = []
        var `public`: [Curve25519.Signing.PublicKey] = []

        init(_ secrets: [String]) {
            for secret in secrets {
                if secret.hasPrefix("whpk_") {
                    if let key = StandardWebhooksSignature.publicKey(secret) { self.public.append(key) }
                } else if let key = StandardWebhooksHMAC.key(secret) {
                    symmetric.append(key)
                }
            }
        }
    }
}
