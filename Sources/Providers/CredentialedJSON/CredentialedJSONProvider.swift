import EmailEvents
import Foundation

/// The ESPs that post JSON events (one object, or an array of them) and authenticate with HTTP
/// credentials rather than a signature: Postmark, Brevo, Mailjet. They differ only in their
/// normalizer, so one provider serves them all: content type, credentials, then each event object.
public struct CredentialedJSONProvider: WebhookProvider {
    /// nil: a test post the ESP's dashboard sends, which is no event.
    typealias Normalizer = @Sendable (JSONObject, [UInt8], String, Date) throws(WebhookError) -> EmailEvent?

    public let provider: Provider
    let name: String
    let normalize: Normalizer

    public static let postmark = CredentialedJSONProvider(provider: .postmark, name: "Postmark", normalize: PostmarkNormalizer.normalize)
    public static let brevo = CredentialedJSONProvider(provider: .brevo, name: "Brevo", normalize: BrevoNormalizer.normalize)
    public static let mailjet = CredentialedJSONProvider(provider: .mailjet, name: "Mailjet", normalize: MailjetNormalizer.normalize)

    public func authenticate(
        _ request: WebhookRequest, credentials: SourceCredentials, now: Date
    ) async throws(WebhookError) -> Authentication {
        try HTTPCredentials.verify(request, credentials: credentials)
        return Authentication()
    }

    public func normalize(_ request: WebhookRequest, _ authentication: Authentication, source: String) -> ReceivedWebhook {
        EventObjects.normalizeEach(request.body) { object, raw throws(WebhookError) in
            try normalize(object, raw, source, request.receivedAt).map { [$0] } ?? []
        }.received()
    }
}
