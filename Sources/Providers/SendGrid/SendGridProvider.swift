import Crypto
import EmailEvents
import Foundation

/// SendGrid's Signed Event Webhook (docs/PROVIDERS.md §2): a JSON array of events, signed with
/// ECDSA P-256 over the timestamp header followed by the raw body.
///
/// SendGrid documents no replay window and may retry a batch for 24 hours; whether retries are
/// re-signed is not documented, so the window is off unless a source sets one. Replaying a genuine
/// batch cannot double-count: every event is deduplicated on `sg_event_id`.
public struct SendGridProvider: WebhookProvider {
    public var provider: Provider { .sendgrid }

    public static let signatureHeader = "x-twilio-email-event-webhook-signature"
    public static let timestampHeader = "x-twilio-email-event-webhook-timestamp"

    public init() {}

    /// The scheme has no nonce: the replay guard is a hash of what was signed (the timestamp header
    /// and the body), so the exact request cannot be stored twice within the guard's TTL, whatever
    /// encoding of its ECDSA signature a replay presents.
    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        guard let digest = try verify(request, credentials: credentials, now: now) else { return Authentication() }
        return Authentication(replayNonce: "sendgrid:" + Hex.encode(digest.prefix(16)))
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        EventObjects.normalizeEach(request.body, arraysOnly: true) { object, raw throws(WebhookError) in
            [try SendGridNormalizer.normalize(object, raw: raw, source: source, receivedAt: request.receivedAt)]
        }.received()
    }

    /// Returns the SHA-256 of what was signed (the timestamp header, then the body), hashed once for
    /// the signature check and the replay guard alike, whatever the number of keys; nil when the
    /// source takes unauthenticated requests.
    private func verify(_ request: WebhookRequest, credentials: SourceCredentials, now: Date) throws(WebhookError) -> SHA256Digest? {
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return nil }
        guard let signatureText = request.headers[Self.signatureHeader],
            let timestamp = request.headers[Self.timestampHeader]
        else {
            throw WebhookError(.missingCredentials, "missing X-Twilio-Email-Event-Webhook-Signature or -Timestamp")
        }
        guard let der = Data(base64Encoded: signatureText.trimmed),
            let signature = try? P256.Signing.ECDSASignature(derRepresentation: der)
        else {
            throw WebhookError(.badSignature, "signature is not a base64 DER ECDSA signature")
        }
        var hasher = SHA256()
        hasher.update(data: Array(timestamp.utf8))
        hasher.update(data: request.body)
        let digest = hasher.finalize()
        let valid = credentials.secrets.contains { key in
            guard let keyData = Data(base64Encoded: key.trimmed),
                let publicKey = try? P256.Signing.PublicKey(derRepresentation: keyData)
            else { return false }
            return publicKey.isValidSignature(signature, for: digest)
        }
        guard valid else { throw WebhookError(.badSignature, "signature does not verify with any configured public key") }
        guard let seconds = Double(timestamp) else { throw WebhookError(.badSignature, "timestamp is not a number") }
        try ReplayWindow.check(seconds, window: credentials.replayWindow, now: now)
        return digest
    }
}
