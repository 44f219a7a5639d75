import EmailEvents
import Foundation
import Testing

@testable import Providers

/// Every Mailgun fixture (written from Mailgun's documented payloads), normalized and checked field
/// by field.
@Suite struct MailgunFixtureTests {
    static let key = "postwire-fixture-signing-key"
    static let credentials = SourceCredentials(secrets: [key], replayWindow: 0)
    static let receivedAt = Date(timeIntervalSince1970: 1_700_001_000)
    static let agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"

    struct Expected: Sendable, CustomTestStringConvertible {
        var file: String
        var type: EventType
        var espEvent: String
        var id: String
        var micros: Int64
        var recipient: String
        var messageHex: String
        var sender: String? = "bounces@mg.example.com"
        var bounceClass: BounceClass? = nil
        var rejectReason: RejectReason? = nil
        var smtpCode: Int? = nil
        var enhancedStatus: String? = nil
        var mtaResponsePrefix: String? = nil
        var description: String? = nil
        var clickURL: String? = nil
        var engagement = false
        var ip: String? = nil
        var tags = ["newsletter", "spring-sale"]
        var campaign: String? = "spring-sale"
        var testDescription: String { file }
    }

    static let cases: [Expected] = [
        Expected(
            file: "accepted", type: .queued, espEvent: "accepted", id: "KWrn2eiOyNSSmyDCLr_1IQ", micros: 1_700_000_000_123_456,
            recipient: "alice@example.com", messageHex: "6e99973ac510e7c5"),
        Expected(
            file: "delivered", type: .delivered, espEvent: "delivered", id: "MVQ9zWZ7dKvLcWWHqexsOw", micros: 1_700_000_005_250_001,
            recipient: "alice@example.com", messageHex: "25a261c6c634f335", smtpCode: 250, mtaResponsePrefix: "OK",
            tags: ["receipt"], campaign: nil),
        Expected(
            file: "rejected", type: .rejected, espEvent: "rejected", id: "poW-vwtMVge98cyVgBeCzA", micros: 1_700_000_003_500_000,
            recipient: "dave@example.net", messageHex: "80981f982659fca5", sender: "news@mg.example.com", rejectReason: .other,
            description:
                "Sandbox subdomains are for test purposes only. Please add your own domain or add the address to authorized recipients in Account Settings."
        ),
        Expected(
            file: "failed-temporary", type: .deferred, espEvent: "failed", id: "lSaaSwVInTVSxtbKuZgI_Q", micros: 1_700_000_010_500_000,
            recipient: "bob@example.net", messageHex: "de4edd085f76d501", bounceClass: .soft, smtpCode: 452, enhancedStatus: "4.2.2",
            mtaResponsePrefix: "4.2.2 The email account that you tried to reach is over quota."),
        Expected(
            file: "failed-permanent", type: .bounced, espEvent: "failed", id: "cwS_WfqLgB3TS7gaUw9VwQ", micros: 1_700_000_020_750_000,
            recipient: "nobody@example.org", messageHex: "7e96532d46c2b754", bounceClass: .hard, smtpCode: 550, enhancedStatus: "5.1.1",
            mtaResponsePrefix: "5.1.1 The email account that you tried to reach does not exist."),
        Expected(
            file: "opened", type: .opened, espEvent: "opened", id: "lng3G5BAtn-Gj3kGwid67A", micros: 1_700_000_060_000_001,
            recipient: "alice@example.com", messageHex: "6e99973ac510e7c5", sender: nil, engagement: true, ip: "203.0.113.7"),
        Expected(
            file: "clicked", type: .clicked, espEvent: "clicked", id: "JeKbPaDqDDXceqw6pQpoAA", micros: 1_700_000_090_500_000,
            recipient: "alice@example.com", messageHex: "6e99973ac510e7c5", sender: nil,
            clickURL: "https://shop.example.com/spring?utm_source=mailgun&utm_campaign=spring-sale", engagement: true, ip: "203.0.113.7"),
        Expected(
            file: "unsubscribed", type: .unsubscribed, espEvent: "unsubscribed", id: "Bvq80QrfMcmVQyk6xr8q4w",
            micros: 1_700_000_120_250_000,
            recipient: "alice@example.com", messageHex: "6e99973ac510e7c5", sender: nil, engagement: true, ip: "203.0.113.7"),
        Expected(
            file: "complained", type: .complained, espEvent: "complained", id: "n987tzM1-5ZdR-YRsbvCeg", micros: 1_700_000_150_125_000,
            recipient: "carol@example.org", messageHex: "96accf90faa1f831", sender: "news@mg.example.com"),
    ]

    static func request(_ file: String) throws -> WebhookRequest {
        WebhookRequest(
            headers: ["Content-Type": "application/json; charset=utf-8"], body: try Fixtures.bytes("mailgun/\(file).json"),
            receivedAt: receivedAt)
    }

    @Test(arguments: cases)
    func normalizesFieldByField(_ expected: Expected) async throws {
        let received = try await MailgunProvider().receive(
            try Self.request(expected.file), source: "eu", credentials: Self.credentials, now: Self.receivedAt)
        let event = try #require(received.events.first)
        #expect(received.events.count == 1)
        #expect(event.provider == .mailgun)
        #expect(event.source == "eu")
        #expect(event.type == expected.type)
        #expect(event.espEvent == expected.espEvent)
        #expect(event.eventKey == "\(expected.id):\(expected.micros)")
        #expect(event.occurredAt.unixMicroseconds == expected.micros)
        #expect(event.receivedAt == Self.receivedAt)
        #expect(event.recipient == expected.recipient)
        #expect(event.recipientDomain == expected.recipient.split(separator: "@").last.map(String.init))
        #expect(event.messageId == "20231114221320.\(expected.messageHex)@mg.example.com")
        #expect(event.rfcMessageId == event.messageId)
        #expect(event.sender == expected.sender)
        #expect(event.bounceClass == expected.bounceClass)
        #expect(event.rejectReason == expected.rejectReason)
        #expect(event.smtpCode == expected.smtpCode)
        #expect(event.enhancedStatus == expected.enhancedStatus)
        if let prefix = expected.mtaResponsePrefix {
            #expect(event.mtaResponse?.hasPrefix(prefix) == true)
        } else {
            #expect(event.mtaResponse == nil)
        }
        #expect(event.description == expected.description)
        #expect(event.clickURL == expected.clickURL)
        #expect(event.userAgent == (expected.engagement ? Self.agent : nil))
        #expect(event.ip == expected.ip)
        #expect(event.tags == expected.tags)
        #expect(event.campaign == expected.campaign)
        #expect(event.metadata["user_id"] == "123")
        #expect(event.deliveryId?.count == 50)
        #expect(received.replayNonce == "mailgun:" + event.deliveryId!)
    }

    @Test(arguments: cases)
    func rawIsTheExactEventDataBytes(_ expected: Expected) async throws {
        let request = try Self.request(expected.file)
        let event = try #require(
            try await MailgunProvider().receive(request, source: "eu", credentials: Self.credentials, now: Self.receivedAt).events.first)
        let body = String(decoding: request.body, as: UTF8.self)
        #expect(body.contains(String(decoding: event.raw, as: UTF8.self)))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(event.raw)) as? [String: Any])
        #expect(parsed["id"] as? String == expected.id)
    }

    @Test func everyFixtureIsCovered() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root.appendingPathComponent("mailgun").path)
        #expect(Set(files.map { $0.replacingOccurrences(of: ".json", with: "") }) == Set(Self.cases.map(\.file)))
    }
}
