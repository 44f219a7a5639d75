import EmailEvents
import Foundation

/// Amazon SES events published to Amazon EventBridge and delivered by an EventBridge API
/// destination (docs/PROVIDERS.md §15). EventBridge signs nothing: the API destination's
/// connection sends a credential on every request, and that is what is checked, in constant time:
/// an API key in `x-api-key` (the connection's "API key name"), or `Authorization: Basic` /
/// `Bearer` (``HTTPCredentials``).
///
/// The body is the EventBridge event, `{"id", "detail-type", "source": "aws.ses", "time", "detail"}`,
/// whose `detail` is the same SES event record SNS carries (``SESNormalizer``); one naming several
/// recipients becomes one event per recipient, keyed by the EventBridge event id, which a retried
/// delivery repeats. A rule whose input path is `$.detail` sends the record alone; it is read too,
/// keyed by what it describes. The `aws.ses` events that are about the account (sending status,
/// advisor recommendations, API calls) are answered 200 with no event; any other detail-type that
/// is not an `Email …` event is quarantined.
///
/// An API destination retries 429 and 5xx for up to 24 hours and drops other 4xx answers.
public struct SESEventBridgeProvider: WebhookProvider {
    public var provider: Provider { .sesEventBridge }
    /// The header an EventBridge API-key connection is told to use.
    public static let apiKeyHeader = "x-api-key"

    public init() {}

    /// The `aws.ses` detail-types that are not about a message (EventBridge's event reference).
    static let accountEvents = ["Sending Status ", "Advisor Recommendation Status ", "AWS API Call via CloudTrail"]

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        try HTTPCredentials.verify(request, credentials: credentials, apiKeyHeader: Self.apiKeyHeader)
        return Authentication()
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        ElementNormalizer.single(request) { body throws(WebhookError) -> [EmailEvent] in
            try Self.events(body, raw: request.body, source: source, receivedAt: request.receivedAt)
        }
    }

    static func events(_ body: JSONObject, raw: [UInt8], source: String, receivedAt: Date) throws(WebhookError) -> [EmailEvent] {
        guard let detailType = body.storage["detail-type"] else {
            // The record alone (input path `$.detail`): no envelope id, so its bytes, which a retry
            // repeats, name it.
            guard body.text("eventType") ?? body.text("notificationType") != nil else {
                throw WebhookError(.malformed, "neither an EventBridge event (no detail-type) nor an SES event record")
            }
            return try SESNormalizer.normalize(
                body, raw: raw, deliveryId: EventKey.content(raw), fallbackTime: "", provider: .sesEventBridge,
                source: source, receivedAt: receivedAt)
        }
        guard body.storage["source"] as? String == "aws.ses" else {
            let source = (body.storage["source"] as? String).map { String($0.prefix(64)) } ?? "no source"
            throw WebhookError(.malformed, "EventBridge event from \(source), not aws.ses")
        }
        guard let detailType = detailType as? String else { throw WebhookError(.malformed, "detail-type is not a string") }
        // Of aws.ses, only these are about the account rather than a message: answered with no event.
        // Any other detail-type that is not an email event is set aside, never dropped unread.
        if Self.accountEvents.contains(where: detailType.hasPrefix) { return [] }
        guard detailType.hasPrefix("Email ") else {
            throw WebhookError(.malformed, "detail-type \(String(detailType.prefix(64))) is not an SES email event")
        }
        guard let id = body.text("id") else { throw WebhookError(.malformed, "EventBridge event has no id") }
        guard let detail = body.object("detail"), let range = JSONScanner.valueRange(ofTopLevelKey: "detail", in: raw) else {
            throw WebhookError(.malformed, "EventBridge event has no detail object")
        }
        return try SESNormalizer.normalize(
            detail, raw: Array(raw[range]), deliveryId: id, fallbackTime: body.text("time") ?? "", provider: .sesEventBridge,
            source: source, receivedAt: receivedAt)
    }
}
