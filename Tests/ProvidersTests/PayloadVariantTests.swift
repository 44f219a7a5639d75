import EmailEvents
import Foundation
import Testing

@testable import Providers

/// Real payload variants (Fixtures/variants/) that were refused with 4xx: each is now an event,
/// its time the receive time marked estimated where it carries none, its key stable across retries.
@Suite struct PayloadVariantTests {
    static let open = SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true)
    static let receivedAt = Date(timeIntervalSince1970: 1_712_000_000)

    static func events(
        _ file: String, _ provider: any WebhookProvider, contentType: String = "application/json"
    ) async throws
        -> [EmailEvent]
    {
        let request = WebhookRequest(
            headers: ["content-type": contentType], body: try Fixtures.bytes("variants/\(file)"), receivedAt: receivedAt)
        return try await provider.receive(request, source: "default", credentials: open, now: receivedAt).events
    }

    @Test(arguments: [
        ("sparkpost-no-timestamp.json", EventType.delivered), ("mandrill-sync-no-ts.form", .unknown),
        ("brevo-proxy-open-date-only.json", .opened), ("postmark-bounce-no-bouncedat.json", .bounced),
    ])
    func eventsWithoutATimeTakeTheReceiveTime(file: String, type: EventType) async throws {
        let provider: any WebhookProvider =
            switch file.split(separator: "-")[0] {
            case "sparkpost": SparkPostProvider()
            case "mandrill": MandrillProvider()
            case "brevo": CredentialedJSONProvider.brevo
            default: CredentialedJSONProvider.postmark
            }
        let contentType = file.hasSuffix(".form") ? "application/x-www-form-urlencoded" : "application/json"
        let first = try await Self.events(file, provider, contentType: contentType)
        let again = try await Self.events(file, provider, contentType: contentType)
        let event = try #require(first.first)
        #expect(first.count == 1 && (type == .unknown || event.type == type), "\(file): \(event.type)")
        #expect(event.occurredAt == Self.receivedAt && event.occurredAtEstimated == true, "\(file)")
        #expect(event.eventKey == again.first?.eventKey, "\(file): a retry deduplicates")
    }

    @Test func aMailgunEventWithoutAnIdGetsAContentKey() async throws {
        let body = Array(#"{"signature":{},"event-data":"#.utf8) + (try Fixtures.bytes("variants/mailgun-no-id.json")) + [UInt8(ascii: "}")]
        let request = WebhookRequest(headers: ["content-type": "application/json"], body: body, receivedAt: Self.receivedAt)
        let event = try #require(
            try await MailgunProvider().receive(request, source: "default", credentials: Self.open, now: Self.receivedAt).events.first)
        #expect(event.eventKey.hasPrefix("c:") && event.occurredAtEstimated == nil && event.type == .delivered)
    }
}
