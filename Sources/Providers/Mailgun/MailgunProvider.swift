import Crypto
import EmailEvents
import Foundation

/// Mailgun's webhooks (docs/PROVIDERS.md §3): one event per request, signed with
/// HMAC-SHA256(signing key, timestamp + token), hex: in the body's `signature` object (JSON, today's
/// format) or as top-level form fields (legacy webhooks, ``MailgunLegacyNormalizer``).
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
    /// A JSON body is today's format; anything else is a legacy form post (urlencoded, or
    /// multipart when a bounce attaches the message), whatever its declared content type.
    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        let signature: MailgunSignature
        let parsed: Authentication.Parsed
        if request.body.first(where: { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }) == UInt8(ascii: "{") {
            if let body = JSONObject.parse(request.body) {
                signature = try MailgunSignature(body.object("signature"))
                parsed = .json(body)
            } else if let range = JSONScanner.valueRange(ofTopLevelKey: "signature", in: request.body),
                let block = JSONObject.parse(request.body[range])
            {
                // The event cannot be read (Foundation refuses, say, a 10,000-digit number), but the
                // signature can: an authentic request, to be quarantined, not refused as unsigned.
                signature = try MailgunSignature(block)
                parsed = .none
            } else {
                throw WebhookError(.unreadable, "body is not a JSON object; cannot find the signature")
            }
        } else {
            let boundary = request.headers["content-type"].flatMap(MultipartForm.boundary(ofContentType:))
            guard let form = boundary.map({ MultipartForm.parse(request.body, boundary: $0) }) ?? FormBody.parse(request.body) else {
                throw WebhookError(.unreadable, "body is neither JSON nor a form; cannot find the signature")
            }
            signature = MailgunSignature(form: form)
            parsed = .form(form)
        }
        try signature.verify(credentials: credentials, now: now)
        return Authentication(replayNonce: signature.token.map { "mailgun:\($0)" }, deliveryId: signature.token, parsed: parsed)
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        var normalizer = ElementNormalizer()
        normalizer.add(index: nil, body: request.body) { () throws(WebhookError) -> [EmailEvent] in
            switch authentication.parsed {
            case .form(let form):
                return [try MailgunLegacyNormalizer.normalize(form, source: source, receivedAt: request.receivedAt)]
            case .json(let body):
                guard let data = body.object("event-data") else { throw WebhookError(.malformed, "signed body has no event-data object") }
                return [
                    try MailgunNormalizer.normalize(
                        data, raw: try rawEventData(request.body), source: source, receivedAt: request.receivedAt)
                ]
            case .none, .sns:
                throw WebhookError(.malformed, "the signed body's event-data cannot be read as JSON")
            }
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

    /// A legacy form's own fields: the last of each (a custom variable of the same name comes first).
    init(form: [(String, String)]) {
        timestamp = form.last { $0.0 == "timestamp" }?.1
        token = form.last { $0.0 == "token" }?.1
        signature = form.last { $0.0 == "signature" }?.1
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
