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
        ReceivedWebhook(
            events: try CredentialedJSON.events(request, esp: "Postmark", credentials: credentials) { object, raw throws(WebhookError) in
                try PostmarkNormalizer.normalize(object, raw: raw, source: source, receivedAt: request.receivedAt)
            })
    }
}
