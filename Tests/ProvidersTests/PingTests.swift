import EmailEvents
import Foundation
import Testing

@testable import Providers

/// The posts ESP dashboards send when a webhook is saved or tested (Tests/ProvidersTests/Fixtures/
/// pings/): each is accepted with no event and nothing set aside, so it is answered 200 and stores
/// nothing. Mailgun's, SendGrid's and Mandrill's "send test" batches look like real events and are
/// stored as such (README: "Test posts").
@Suite struct PingTests {
    static let open = SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true)

    @Test(arguments: [
        ("sparkpost.json", "sparkpost", "application/json"), ("mandrill.form", "mandrill", "application/x-www-form-urlencoded"),
        ("postmark-bounce.json", "postmark", "application/json"), ("ses-setup-notification.json", "ses", "text/plain"),
        ("ses-subscription-succeeded.json", "ses", "text/plain"),
    ])
    func testPostsYieldNoEventAndNothingToQuarantine(file: String, provider: String, contentType: String) async throws {
        let provider = try #require(Provider(rawValue: provider).flatMap { ProviderRegistry.provider(for: $0) })
        let request = WebhookRequest(headers: ["content-type": contentType], body: try Fixtures.bytes("pings/\(file)"), receivedAt: Date())
        let received = try await provider.receive(request, source: "default", credentials: Self.open, now: Date())
        #expect(received.events.isEmpty, "\(file)")
        #expect(received.rejected.isEmpty, "\(file)")
    }

    /// A real Postmark bounce (any other message id) is still an event.
    @Test func aRealPostmarkBounceIsStillAnEvent() async throws {
        var text = String(decoding: try Fixtures.bytes("pings/postmark-bounce.json"), as: UTF8.self)
        text = text.replacingOccurrences(of: PostmarkNormalizer.testMessageId, with: "883953f4-6105-42a2-a16a-77a8eac79483")
        let request = WebhookRequest(headers: ["content-type": "application/json"], body: Array(text.utf8), receivedAt: Date())
        let received = try await CredentialedJSONProvider.postmark.receive(request, source: "default", credentials: Self.open, now: Date())
        #expect(received.events.map(\.type) == [.bounced])
    }
}
