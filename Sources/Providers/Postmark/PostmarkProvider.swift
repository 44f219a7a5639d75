import EmailEvents
import Foundation

/// Postmark (ESP-REFERENCE.md §4): one JSON event per request, discriminated by `RecordType`.
/// Postmark does not sign webhooks: configure basic auth in the URL (or a bearer header) and
/// give Postwire the same `user:password`.
public struct PostmarkProvider: WebhookProvider {
    public var provider: Provider { .postmark }
    public var defaultReplayWindow: Int { 0 }

    public init() {}

    public func receive(
        _ request: WebhookRequest,
        source: String,
        credentials: SourceCredentials,
        now: Date
    ) async throws(WebhookError) -> ReceivedWebhook {
        guard request.mediaType == "application/json" else {
            throw WebhookError(.unsupportedMediaType, "Postmark webhooks must be application/json")
        }
        try HTTPCredentials.verify(request, credentials: credentials)
        guard let object = JSONObject.parse(request.body) else { throw WebhookError(.malformed, "body is not a JSON object") }
        let event = try PostmarkNormalizer.normalize(object, raw: request.body, source: source, receivedAt: request.receivedAt)
        return ReceivedWebhook(events: [event])
    }
}
