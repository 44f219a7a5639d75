import Crypto
import EmailEvents
import Foundation
import Testing

@testable import ProviderSamples
@testable import Providers

/// `postwire send-test` must produce requests the ingress accepts, covering each event type the
/// provider sends: every sample set is authenticated and normalized here with the same secret.
@Suite struct SampleWebhooksTests {
    static let now = Date()

    static func samples(_ kinds: [(String, [String: String])]) -> [SampleEvent] {
        kinds.enumerated().map { index, kind in
            SampleEvent(espEvent: kind.0, recipient: "User\(index)@Example.com", occurredAt: now, campaign: "send-test", extra: kind.1)
        }
    }

    static func types(
        _ provider: some WebhookProvider, _ requests: [SignedWebhook], _ credentials: SourceCredentials
    ) async throws -> [EventType] {
        var types: [EventType] = []
        for webhook in requests {
            let request = WebhookRequest(headers: webhook.headers, body: webhook.body, receivedAt: now)
            let received = try await provider.receive(request, source: "default", credentials: credentials, now: now)
            types += received.events.map(\.type)
        }
        return types
    }

    /// Sample bodies are written without JSONSerialization; read back by it, they are the values
    /// they were made from, keys sorted when asked.
    @Test func serializedBodiesAreTheirValues() throws {
        let value: [String: Any] = [
            "text": "quote \" backslash \\ slash / newline \n nul \u{0} é 😀", "int": -42, "double": 1_700_000_000.123456,
            "yes": true, "no": false, "list": ["a", 1, ["nested": [String: Any]()]] as [Any], "empty": [Any](),
            "map": ["b": "2", "a": "1"], "null": NSNull(), "date": Date(timeIntervalSince1970: 0).description,
        ]
        let bytes = SampleWebhooks.serialize(value)
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? NSDictionary)
        #expect(parsed == value as NSDictionary)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix(#"{"date":"#))
        #expect((parsed["yes"] as? NSNumber).map { String(cString: $0.objCType) } == "c")  // a JSON true, not 1
        #expect((parsed["double"] as? Double) == 1_700_000_000.123456)
    }

    @Test func unsignedProviders() async throws {
        let secret = "user:pw"
        let credentials = SourceCredentials(secrets: [secret], replayWindow: 0)
        let postmark = try await Self.types(
            CredentialedJSONProvider.postmark,
            Self.samples(SampleWebhooks.postmarkEvents).map { SampleWebhooks.postmark($0, secret: secret) }, credentials
        )
        #expect(postmark == [.delivered, .bounced, .deferred, .complained, .opened, .clicked, .unsubscribed, .subscribed])
        let sparkpost = try await Self.types(
            SparkPostProvider(), [SampleWebhooks.sparkpost(Self.samples(SampleWebhooks.sparkpostEvents), secret: secret)], credentials)
        #expect(sparkpost == [.queued, .delivered, .bounced, .deferred, .rejected, .opened, .clicked, .complained, .unsubscribed])
        let brevo = try await Self.types(
            CredentialedJSONProvider.brevo, Self.samples(SampleWebhooks.brevoEvents).map { SampleWebhooks.brevo($0, secret: "token") },
            SourceCredentials(secrets: ["token"], replayWindow: 0))
        #expect(
            brevo == [
                .queued, .delivered, .deferred, .bounced, .bounced, .rejected, .complained, .opened, .opened, .clicked, .unsubscribed,
                .failed,
            ])
        let mailjet = try await Self.types(
            CredentialedJSONProvider.mailjet, Self.samples(SampleWebhooks.mailjetEvents).map { SampleWebhooks.mailjet($0, secret: secret) },
            credentials)
        #expect(mailjet == [.delivered, .opened, .clicked, .bounced, .rejected, .complained, .unsubscribed])
    }

    @Test func signedProviders() async throws {
        let mailersend = try await Self.types(
            MailerSendProvider(), Self.samples(SampleWebhooks.mailersendEvents).map { SampleWebhooks.mailersend($0, secret: "ms-secret") },
            SourceCredentials(secrets: ["ms-secret"], replayWindow: 0))
        #expect(mailersend == [.sent, .delivered, .bounced, .bounced, .opened, .opened, .clicked, .clicked, .unsubscribed, .complained])

        let whsec = "whsec_" + Data("resend-secret-bytes".utf8).base64EncodedString()
        let resendRequests = Self.samples(SampleWebhooks.resendEvents).map {
            SampleWebhooks.standardWebhook($0, secret: whsec, signedAt: Self.now)
        }
        let resend = try await Self.types(ResendProvider(), resendRequests, SourceCredentials(secrets: [whsec], replayWindow: 300))
        #expect(resend == [.sent, .delivered, .deferred, .bounced, .complained, .opened, .clicked, .failed, .rejected])
        let generic = try await Self.types(
            StandardWebhooksProvider(),
            Self.samples(SampleWebhooks.resendEvents).map {
                SampleWebhooks.standardWebhook($0, secret: whsec, signedAt: Self.now, headerPrefix: "webhook-")
            },
            SourceCredentials(secrets: [whsec], replayWindow: 300))
        #expect(generic.filter { $0 != .unknown }.count >= 6)

        let url = "https://hooks.example.com/webhooks/mandrill"
        let mandrill = try await Self.types(
            MandrillProvider(), [SampleWebhooks.mandrill(Self.samples(SampleWebhooks.mandrillEvents), key: "md-key", url: url)],
            SourceCredentials(secrets: ["md-key"], replayWindow: 0, url: url))
        #expect(mandrill == [.sent, .deferred, .bounced, .bounced, .opened, .clicked, .complained, .unsubscribed, .rejected])
    }

    @Test func sesSamplesNeedAnUnauthenticatedSource() async throws {
        let topic = "arn:aws:sns:us-east-1:000000000000:postwire-test"
        let requests = Self.samples(SampleWebhooks.sesEvents).map { SampleWebhooks.ses($0, topicArn: topic) }
        let open = try await Self.types(
            SESProvider(), requests, SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true))
        #expect(open == [.sent, .delivered, .bounced, .bounced, .complained, .rejected, .opened, .clicked, .deferred])
        // A real source (one that lists its topics) verifies the signature, which a sample cannot have.
        await #expect(throws: WebhookError.self) {
            try await Self.types(SESProvider(), requests, SourceCredentials(secrets: [], replayWindow: 0, allowedTopics: [topic]))
        }
    }
}
