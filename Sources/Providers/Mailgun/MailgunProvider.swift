import Crypto
import EmailEvents
import Foundation

/// Mailgun's current JSON webhooks (ESP-REFERENCE.md §3): one event per request, the signature
/// object inside the body: HMAC-SHA256(signing key, timestamp + token), hex.
///
/// Mailgun takes 406 as "rejected, do not retry", so unauthentic requests get 406. The token is
/// a per-request nonce: the ingress refuses a token it has seen within the replay window.
public struct MailgunProvider: WebhookProvider {
    public var provider: Provider { .mailgun }
    public var defaultReplayWindow: Int { 300 }
    public var refusalStatus: Int? { 406 }

    public init() {}

    /// Mailgun signs only `timestamp` + `token`, not the event: the token is therefore the request's
    /// identity, checked by the ingress before the event is read and consumed when it is stored.
    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        try MediaType.require("application/json", request, esp: "Mailgun")
        guard let body = JSONObject.parse(request.body) else {
            throw WebhookError(.unreadable, "body is not a JSON object; cannot find the signature")
        }
        let signature = try MailgunSignature(body.object("signature"))
        try signature.verify(credentials: credentials, now: now)
        return Authentication(replayNonce: signature.token.map { "mailgun:\($0)" }, deliveryId: signature.token, parsed: .json(body))
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        var normalizer = ElementNormalizer()
        normalizer.add(index: nil, body: request.body) { () throws(WebhookError) -> [EmailEvent] in
            guard case .json(let body) = authentication.parsed, let data = body.object("event-data") else {
                throw WebhookError(.malformed, "signed body has no event-data object")
            }
            return [
                try MailgunNormalizer.normalize(data, raw: try rawEventData(request.body), source: source, receivedAt: request.receivedAt)
            ]
        }
        return normalizer.received(deliveryId: authentication.deliveryId)
    }

    /// The exact bytes of `event-data`, found by re-serializing nothing: we locate the value in the
    /// raw body so `raw` stays byte-exact.
    private func rawEventData(_ body: [UInt8]) throws(WebhookError) -> [UInt8] {
        guard let range = JSONScanner.valueRange(atPath: ["event-data"], in: body) else {
            throw WebhookError(.malformed, "cannot locate event-data in the body")
        }
        return Array(body[range])
    }
}

/// The `signature` object of a Mailgun body.
struct MailgunSignature {
    var timestamp: String?
    var token: String?
    var signature: String?

    init(_ object: JSONObject?) throws(WebhookError) {
        guard let object else { throw WebhookError(.missingCredentials, "body has no signature object") }
        timestamp = object.string("timestamp")
        token = object.string("token")
        signature = object.string("signature")
    }

    func verify(credentials: SourceCredentials, now: Date) throws(WebhookError) {
        guard let timestamp, let token, let signature else {
            if credentials.allowUnauthenticated && credentials.secrets.isEmpty { return }
            throw WebhookError(.missingCredentials, "signature object needs timestamp, token and signature")
        }
        if credentials.secrets.isEmpty && credentials.allowUnauthenticated { return }
        guard let mac = Hex.decode(signature), mac.count == SHA256.byteCount else {
            throw WebhookError(.badSignature, "signature is not a hex HMAC-SHA256")
        }
        let message = Data((timestamp + token).utf8)
        let valid = credentials.secrets.contains { secret in
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: message, using: SymmetricKey(data: Data(secret.utf8)))
        }
        guard valid else { throw WebhookError(.badSignature, "signature does not match any configured signing key") }
        guard let seconds = Double(timestamp) else { throw WebhookError(.badSignature, "timestamp is not a number") }
        try ReplayWindow.check(seconds, window: credentials.replayWindow, now: now)
    }
}
