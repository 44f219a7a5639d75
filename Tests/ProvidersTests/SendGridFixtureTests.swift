import EmailEvents
import Foundation
import Testing

@testable import Providers

/// SendGrid's documented events as one signed batch (Fixtures/sendgrid/batch.json, CRLF line
/// endings as SendGrid sends them), verified and normalized field by field.
@Suite struct SendGridFixtureTests {
    static let receivedAt = Date(timeIntervalSince1970: 1_700_001_000)

    struct Expected: Sendable {
        var type: EventType
        var espEvent: String
        var recipient: String
        var seconds: Int64
        var bounceClass: BounceClass? = nil
        var rejectReason: RejectReason? = nil
        var smtpCode: Int? = nil
        var enhancedStatus: String? = nil
        var machineOpen: Bool? = nil
        var clickURL: String? = nil
        var ip: String? = nil
        var tags = ["newsletter", "spring-sale"]
        var hasSMTPId = false
    }

    static let expected: [Expected] = [
        Expected(
            type: .queued, espEvent: "processed", recipient: "alice@example.com", seconds: 1_700_000_000, tags: ["newsletter"],
            hasSMTPId: true),
        Expected(
            type: .rejected, espEvent: "dropped", recipient: "suppressed@example.com", seconds: 1_700_000_001,
            rejectReason: .bounced, enhancedStatus: "5.0.0", hasSMTPId: true),
        Expected(
            type: .delivered, espEvent: "delivered", recipient: "alice@example.com", seconds: 1_700_000_002, smtpCode: 250,
            tags: ["newsletter"], hasSMTPId: true),
        Expected(
            type: .deferred, espEvent: "deferred", recipient: "bob@example.net", seconds: 1_700_000_005, bounceClass: .soft,
            smtpCode: 451, hasSMTPId: true),
        Expected(
            type: .bounced, espEvent: "bounce", recipient: "nobody@example.com", seconds: 1_700_000_007, bounceClass: .hard,
            smtpCode: 550, enhancedStatus: "5.1.1", hasSMTPId: true),
        Expected(
            type: .bounced, espEvent: "bounce", recipient: "carol@example.org", seconds: 1_700_000_009, bounceClass: .block,
            smtpCode: 550, enhancedStatus: "5.7.1", hasSMTPId: true),
        Expected(
            type: .opened, espEvent: "open", recipient: "alice@example.com", seconds: 1_700_000_100, machineOpen: true, ip: "203.0.113.50"),
        Expected(
            type: .clicked, espEvent: "click", recipient: "alice@example.com", seconds: 1_700_000_160,
            clickURL: "https://shop.example.com/spring?utm_source=sendgrid&utm_campaign=spring-sale", ip: "203.0.113.7"),
        Expected(type: .complained, espEvent: "spamreport", recipient: "dan@example.com", seconds: 1_700_000_300, tags: ["newsletter"]),
        Expected(type: .unsubscribed, espEvent: "unsubscribe", recipient: "erin@example.com", seconds: 1_700_000_400),
        Expected(
            type: .unsubscribed, espEvent: "group_unsubscribe", recipient: "frank@example.com", seconds: 1_700_000_500,
            clickURL: "https://u123456.ct.sendgrid.net/asm/unsubscribe/?user_id=123456&data=abc123", ip: "203.0.113.9"),
        Expected(
            type: .subscribed, espEvent: "group_resubscribe", recipient: "frank@example.com", seconds: 1_700_000_600,
            clickURL: "https://u123456.ct.sendgrid.net/asm/?user_id=123456&data=abc123", ip: "203.0.113.9"),
    ]

    static func signedBatch() throws -> (WebhookRequest, SourceCredentials) {
        let signature = try #require(try Fixtures.json("sendgrid/batch.signature.json") as? [String: String])
        let keys = try #require(try Fixtures.json("vectors/sendgrid-ecdsa.json") as? [String: Any])
        let request = WebhookRequest(
            headers: [
                "content-type": "application/json",
                "x-twilio-email-event-webhook-signature": signature["signature"]!,
                "x-twilio-email-event-webhook-timestamp": signature["timestamp"]!,
            ],
            body: try Fixtures.bytes("sendgrid/batch.json"), receivedAt: receivedAt
        )
        return (request, SourceCredentials(secrets: [keys["publicKey"] as! String], replayWindow: 0))
    }

    @Test func batchNormalizesFieldByField() async throws {
        let (request, credentials) = try Self.signedBatch()
        let events = try await SendGridProvider().receive(request, source: "default", credentials: credentials, now: Self.receivedAt).events
        let objects = try #require(try JSONSerialization.jsonObject(with: Data(request.body)) as? [[String: Any]])
        try #require(events.count == Self.expected.count)
        for (index, (event, expected)) in zip(events, Self.expected).enumerated() {
            let object = objects[index]
            #expect(event.provider == .sendgrid)
            #expect(event.type == expected.type, "event \(index)")
            #expect(event.espEvent == expected.espEvent)
            #expect(event.eventKey == object["sg_event_id"] as? String)
            #expect(event.messageId == object["sg_message_id"] as? String)
            #expect(event.recipient == expected.recipient)
            #expect(event.occurredAt.unixMicroseconds == expected.seconds * 1_000_000)
            #expect(event.bounceClass == expected.bounceClass, "event \(index)")
            #expect(event.rejectReason == expected.rejectReason, "event \(index)")
            #expect(event.smtpCode == expected.smtpCode, "event \(index)")
            #expect(event.enhancedStatus == expected.enhancedStatus, "event \(index)")
            #expect(event.isMachineOpen == expected.machineOpen)
            #expect(event.clickURL == expected.clickURL)
            #expect(event.ip == expected.ip)
            #expect(event.tags == expected.tags, "event \(index)")
            #expect(event.campaign == "spring-sale")
            #expect(event.metadata["user_id"] == "123")
            #expect(event.metadata["campaign"] == "spring-sale")
            #expect(event.metadata["event"] == nil)
            #expect((event.rfcMessageId != nil) == expected.hasSMTPId)
            if let rfc = event.rfcMessageId { #expect(!rfc.hasPrefix("<") && !rfc.hasSuffix(">")) }
        }
    }

    @Test func eachRawIsTheExactElementBytes() async throws {
        let (request, credentials) = try Self.signedBatch()
        let events = try await SendGridProvider().receive(request, source: "default", credentials: credentials, now: Self.receivedAt).events
        let body = String(decoding: request.body, as: UTF8.self)
        var searchFrom = body.startIndex
        for event in events {
            let raw = String(decoding: event.raw, as: UTF8.self)
            #expect(raw.hasPrefix("{") && raw.hasSuffix("}"))
            let found = try #require(body.range(of: raw, range: searchFrom..<body.endIndex))
            searchFrom = found.upperBound
        }
        #expect(events.contains { String(decoding: $0.raw, as: UTF8.self).contains("São Paulo") })
    }

    @Test func alteredBodyOrTimestampFails() async throws {
        let (request, credentials) = try Self.signedBatch()
        var altered = request
        altered.body[altered.body.count / 2] ^= 0x01
        await #expect(throws: WebhookError(.badSignature, "signature does not verify with any configured public key")) {
            try await SendGridProvider().receive(altered, source: "default", credentials: credentials, now: Self.receivedAt)
        }
        var retimed = request
        retimed.headers["x-twilio-email-event-webhook-timestamp"] = "1700000701"
        await #expect(throws: WebhookError.self) {
            try await SendGridProvider().receive(retimed, source: "default", credentials: credentials, now: Self.receivedAt)
        }
    }

    @Test func rotatedKeysBothVerify() async throws {
        let (request, credentials) = try Self.signedBatch()
        let other =
            "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+2fNNRaINXvVpiglSI8eNEc6wEA3F+g=="
        let rotating = SourceCredentials(secrets: [other, credentials.secrets[0]], replayWindow: 0)
        #expect(
            try await SendGridProvider().receive(request, source: "default", credentials: rotating, now: Self.receivedAt).events.count == 12
        )
        let onlyOther = SourceCredentials(secrets: [other], replayWindow: 0)
        await #expect(throws: WebhookError.self) {
            try await SendGridProvider().receive(request, source: "default", credentials: onlyOther, now: Self.receivedAt)
        }
    }
}
