import EmailEvents
import Foundation
import Testing

@testable import Providers

/// What an EventBridge API destination can send besides the documented events: wrong or missing
/// credentials, events of other services, envelopes without what the record needs.
@Suite struct SESEventBridgeTests {
    static let key = "eventbridge-key"
    static let credentials = SourceCredentials(secrets: [key, "user:pass"], replayWindow: 0)
    static let bounce = try! Fixtures.bytes("ses-eventbridge/bounce.json")

    static func request(_ body: [UInt8], _ headers: [String: String] = ["x-api-key": key]) -> WebhookRequest {
        WebhookRequest(headers: headers.merging(["content-type": "application/json"]) { a, _ in a }, body: body, receivedAt: Date())
    }

    static func failure(_ request: WebhookRequest) async -> WebhookError? {
        do {
            _ = try await SESEventBridgeProvider().receive(request, source: "default", credentials: credentials, now: Date())
            return nil
        } catch {
            return error
        }
    }

    @Test func credentialsAreTheAPIKeyHeaderOrBasic() async {
        #expect(await Self.failure(Self.request(Self.bounce)) == nil)
        let basic = "Basic " + Data("user:pass".utf8).base64EncodedString()
        #expect(await Self.failure(Self.request(Self.bounce, ["authorization": basic])) == nil)
        #expect(await Self.failure(Self.request(Self.bounce, [:]))?.code == .missingCredentials)
        #expect(await Self.failure(Self.request(Self.bounce, ["x-api-key": "eventbridge-kez"]))?.code == .badSignature)
        // A wrong key beside good Basic credentials (a proxy's own x-api-key): Basic decides.
        #expect(await Self.failure(Self.request(Self.bounce, ["x-api-key": "nope", "authorization": basic])) == nil)
        #expect(
            await Self.failure(
                Self.request(Self.bounce, ["x-api-key": "nope", "authorization": "Basic " + Data("user:nope".utf8).base64EncodedString()]))?
                .code == .badSignature)
        #expect(await Self.failure(Self.request(Self.bounce, ["x-api-key": ""]))?.code == .badSignature)
        // Bearer with the key: the key is the credential, whichever header carries it.
        #expect(await Self.failure(Self.request(Self.bounce, ["authorization": "Bearer " + Self.key])) == nil)
        // Basic is only matched against user:password secrets; the API key is not a password.
        let keyAsBasic = "Basic " + Data(Self.key.utf8).base64EncodedString()
        #expect(await Self.failure(Self.request(Self.bounce, ["authorization": keyAsBasic]))?.code == .badSignature)
    }

    @Test func eventsThatAreNotAboutAMessageOrNotFromSESAreToldApart() async throws {
        func body(_ object: [String: Any]) throws -> [UInt8] { Array(try JSONSerialization.data(withJSONObject: object)) }
        let record = try #require(try JSONSerialization.jsonObject(with: Data(Self.bounce)) as? [String: Any])
        var other = record
        other["source"] = "aws.ec2"
        #expect(await Self.failure(Self.request(try body(other)))?.code == .malformed)
        var status = record
        status["detail-type"] = "Sending Status Enabled"
        let received = try await SESEventBridgeProvider().receive(
            Self.request(try body(status)), source: "default", credentials: Self.credentials, now: Date())
        #expect(received.events.isEmpty && received.rejected.isEmpty)
        for (field, value) in [("detail", "{\"eventType\":\"Bounce\"}" as Any), ("id", NSNull() as Any)] {
            var broken = record
            broken[field] = value
            #expect(await Self.failure(Self.request(try body(broken)))?.code == .malformed, "\(field)")
        }
        var noRecipients = record
        noRecipients["detail"] = ["eventType": "Bounce", "bounce": ["bouncedRecipients": [Any]()], "mail": [String: Any]()]
        #expect(await Self.failure(Self.request(try body(noRecipients)))?.code == .malformed)
        #expect(await Self.failure(Self.request(Array("[1,2]".utf8)))?.code == .malformed)
        #expect(await Self.failure(Self.request(Array(#"{"detail-type":7,"source":"aws.ses"}"#.utf8)))?.code == .malformed)
        // A detail-type that is not a string, or names neither an email event nor an account event,
        // is set aside (quarantined), never answered 200 unread.
        for detailType in [7 as Any, "email sent", "Something New", ["Email Sent"]] {
            var odd = record
            odd["detail-type"] = detailType
            #expect(await Self.failure(Self.request(try body(odd)))?.code == .malformed, "\(detailType)")
        }
        var cloudTrail = record
        cloudTrail["detail-type"] = "AWS API Call via CloudTrail"
        let trail = try await SESEventBridgeProvider().receive(
            Self.request(try body(cloudTrail)), source: "default", credentials: Self.credentials, now: Date())
        #expect(trail.events.isEmpty && trail.rejected.isEmpty)
    }

    @Test func aRetriedEventHasTheSameKeysAndAnotherEventOtherKeys() async throws {
        let first = try await SESEventBridgeProvider().receive(
            Self.request(Self.bounce), source: "default", credentials: Self.credentials, now: Date())
        let again = try await SESEventBridgeProvider().receive(
            Self.request(Self.bounce), source: "default", credentials: Self.credentials, now: Date())
        #expect(first.events.map(\.eventKey) == again.events.map(\.eventKey))
        #expect(first.events.allSatisfy { $0.provider == .sesEventBridge && $0.deliveryId != nil })
        var object = try #require(try JSONSerialization.jsonObject(with: Data(Self.bounce)) as? [String: Any])
        object["id"] = "another-event"
        let other = try await SESEventBridgeProvider().receive(
            Self.request(Array(try JSONSerialization.data(withJSONObject: object))), source: "default",
            credentials: Self.credentials, now: Date())
        #expect(Set(other.events.map(\.eventKey)).isDisjoint(with: first.events.map(\.eventKey)))
    }
}
