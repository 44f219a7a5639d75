import EmailEvents
import Foundation
import Testing

@testable import Providers

/// Fixtures written from each ESP's documentation with an `expected.json` beside them that
/// states, from the docs and docs/PROVIDERS.md rather than from our code, what every fixture must
/// normalize to. Each field named there is checked; `null` means the field must be absent.
struct ExpectedFixtures {
    let provider: any WebhookProvider
    let folder: String
    /// Builds the authentic request for a fixture's bytes.
    let request: @Sendable (String, [UInt8]) throws -> WebhookRequest
    let credentials: SourceCredentials

    // After every fixture's event time: a time more than a day after receipt is not plausible (EventTime).
    static let receivedAt = Date(timeIntervalSince1970: 1_712_000_000)

    /// Every fixture file named in expected.json, with its expected events in order.
    func cases() throws -> [(file: String, expected: [[String: Any]])] {
        let table = try #require(try Fixtures.json("\(folder)/expected.json") as? [String: Any])
        return table.keys.filter { !$0.hasPrefix("_") }.sorted().map { file in
            let value = table[file]
            let list = (value as? [[String: Any]]) ?? [(value as? [String: Any]) ?? [:]]
            return (file, list)
        }
    }

    func check() async throws {
        var keys = Set<String>()
        var total = 0
        for (file, expected) in try cases() {
            let bytes = try Fixtures.bytes("\(folder)/\(file)")
            let events = try await provider.receive(
                try request(file, bytes), source: "default", credentials: credentials, now: Self.receivedAt
            ).events
            try #require(events.count == expected.count, "\(folder)/\(file): \(events.count) events, expected \(expected.count)")
            for (index, (event, fields)) in zip(events, expected).enumerated() {
                Self.compare(event, fields, where: "\(folder)/\(file)#\(index)")
                #expect(keys.insert("\(event.eventKey)").inserted, "\(folder)/\(file)#\(index): duplicate event key \(event.eventKey)")
                #expect(JSONObject.parse(event.raw) != nil, "\(folder)/\(file)#\(index): raw is not one JSON object")
                total += 1
            }
            // The same bytes again give the same keys: a retry is recognised.
            let again = try await provider.receive(
                try request(file, bytes), source: "default", credentials: credentials, now: Self.receivedAt
            ).events
            #expect(again.map(\.eventKey) == events.map(\.eventKey))
        }
        #expect(total > 0)
    }

    static func compare(_ event: EmailEvent, _ fields: [String: Any], where place: String) {
        func check<T: Equatable>(_ name: String, _ actual: T?, _ convert: (Any) -> T?) {
            guard let value = fields[name] else { return }
            let wanted = value is NSNull ? nil : convert(value)
            #expect(actual == wanted, "\(place) \(name): got \(String(describing: actual)), expected \(String(describing: wanted))")
        }
        check("type", event.type.rawValue) { $0 as? String }
        if let name = fields["espEvent"] as? String {
            let subtype = fields["espSubtype"] as? String
            #expect(event.espEvent == name || event.espEvent == "\(name)/\(subtype ?? "")", "\(place) espEvent: \(event.espEvent)")
        }
        check("recipient", event.recipient) { $0 as? String }
        check("occurredAtMicros", event.occurredAt.unixMicroseconds) { ($0 as? NSNumber)?.int64Value }
        check("messageId", event.messageId) { ($0 as? String) ?? ($0 as? NSNumber)?.stringValue }
        check("bounceClass", event.bounceClass?.rawValue) { $0 as? String }
        check("rejectReason", event.rejectReason?.rawValue) { $0 as? String }
        check("smtpCode", event.smtpCode) { ($0 as? NSNumber)?.intValue }
        check("clickURL", event.clickURL) { $0 as? String }
        check("userAgent", event.userAgent) { $0 as? String }
        check("ip", event.ip) { $0 as? String }
        check("isFirst", event.isFirst) { ($0 as? NSNumber)?.boolValue }
        check("isMachineOpen", event.isMachineOpen) { ($0 as? NSNumber)?.boolValue }
        check("tags", event.tags) { $0 as? [String] }
        check("campaign", event.campaign) { $0 as? String }
        check("metadata", event.metadata) { ($0 as? [String: Any])?.compactMapValues(JSONObject.textValue) }
    }

    static func basic(_ credentials: String) -> @Sendable (String, [UInt8]) throws -> WebhookRequest {
        { _, body in
            WebhookRequest(
                headers: ["content-type": "application/json", "authorization": "Basic " + Data(credentials.utf8).base64EncodedString()],
                body: body, receivedAt: receivedAt
            )
        }
    }
}

@Suite struct ExpectedFixtureTests {
    static let secret = "postwire:fixture-password"
    static let unsigned = SourceCredentials(secrets: [secret], replayWindow: 0)

    @Test func postmark() async throws {
        try await ExpectedFixtures(
            provider: CredentialedJSONProvider.postmark, folder: "postmark", request: ExpectedFixtures.basic(Self.secret),
            credentials: Self.unsigned
        ).check()
    }

    @Test func sparkpost() async throws {
        try await ExpectedFixtures(
            provider: SparkPostProvider(), folder: "sparkpost", request: ExpectedFixtures.basic(Self.secret), credentials: Self.unsigned
        ).check()
    }

    @Test func brevo() async throws {
        try await ExpectedFixtures(
            provider: CredentialedJSONProvider.brevo, folder: "brevo", request: ExpectedFixtures.basic(Self.secret),
            credentials: Self.unsigned
        ).check()
    }

    @Test func mailjet() async throws {
        try await ExpectedFixtures(
            provider: CredentialedJSONProvider.mailjet, folder: "mailjet", request: ExpectedFixtures.basic(Self.secret),
            credentials: Self.unsigned
        ).check()
    }
}

@Suite struct SignedExpectedFixtureTests {
    static func sidecar(_ path: String) throws -> [String: Any] {
        try #require(try Fixtures.json(path) as? [String: Any])
    }

    @Test func mailersend() async throws {
        let signatures = try Self.sidecar("mailersend/signatures.json").compactMapValues { $0 as? String }
        try await ExpectedFixtures(
            provider: MailerSendProvider(), folder: "mailersend",
            request: { file, body in
                WebhookRequest(
                    headers: ["content-type": "application/json", "signature": signatures[file] ?? ""], body: body,
                    receivedAt: ExpectedFixtures.receivedAt)
            },
            credentials: SourceCredentials(secrets: ["postwire-mailersend-fixture-secret"], replayWindow: 0)
        ).check()
    }

    @Test func resend() async throws {
        let headers = try Self.sidecar("resend/headers.json").compactMapValues { $0 as? [String: String] }
        try await ExpectedFixtures(
            provider: ResendProvider(), folder: "resend",
            request: { file, body in
                let signed = headers[file] ?? [:]
                return WebhookRequest(
                    headers: signed.merging(["content-type": "application/json"]) { a, _ in a }, body: body,
                    receivedAt: ExpectedFixtures.receivedAt)
            },
            // The fixtures were signed in 2023: the replay window is checked by the vector tests.
            credentials: SourceCredentials(secrets: ["whsec_cG9zdHdpcmUtcmVzZW5kLWZpeHR1cmUtc2VjcmV0"], replayWindow: 0)
        ).check()
    }

    @Test func mandrill() async throws {
        let signature = try Self.sidecar("mandrill/batch.signature.json").compactMapValues { $0 as? String }
        try await ExpectedFixtures(
            provider: MandrillProvider(), folder: "mandrill",
            request: { _, body in
                WebhookRequest(
                    headers: ["content-type": "application/x-www-form-urlencoded", "x-mandrill-signature": signature["signature"] ?? ""],
                    body: body, receivedAt: ExpectedFixtures.receivedAt)
            },
            credentials: SourceCredentials(secrets: [signature["key"] ?? ""], replayWindow: 0, url: signature["url"])
        ).check()
    }

    static let topic = "arn:aws:sns:us-east-1:123456789012:postwire-ses-events"

    static func snsRequest(_ headers: [String: Any]) -> @Sendable (String, [UInt8]) throws -> WebhookRequest {
        let table = headers.compactMapValues { $0 as? [String: String] }
        return { file, body in
            WebhookRequest(
                headers: (table[file] ?? [:]).merging(["content-type": "text/plain; charset=UTF-8"]) { a, _ in a }, body: body,
                receivedAt: ExpectedFixtures.receivedAt)
        }
    }

    @Test func ses() async throws {
        try await ExpectedFixtures(
            provider: SESProvider(certificates: try FixtureCertificates()), folder: "ses",
            request: Self.snsRequest(try Self.sidecar("ses/headers.json")),
            credentials: SourceCredentials(secrets: [], replayWindow: 0, allowedTopics: [Self.topic])
        ).check()
    }

    /// The API-key connection's header; the same source also takes Basic credentials.
    @Test func sesEventBridge() async throws {
        let headers = try #require(try Self.sidecar("ses-eventbridge/headers.json") as? [String: String])
        let key = try #require(headers["x-api-key"])
        try await ExpectedFixtures(
            provider: SESEventBridgeProvider(), folder: "ses-eventbridge",
            request: { _, body in WebhookRequest(headers: headers, body: body, receivedAt: ExpectedFixtures.receivedAt) },
            credentials: SourceCredentials(secrets: [key], replayWindow: 0)
        ).check()
        try await ExpectedFixtures(
            provider: SESEventBridgeProvider(), folder: "ses-eventbridge", request: ExpectedFixtures.basic(ExpectedFixtureTests.secret),
            credentials: SourceCredentials(secrets: [key, ExpectedFixtureTests.secret], replayWindow: 0)
        ).check()
    }

    @Test func snsHandshakes() async throws {
        let expected = try Self.sidecar("sns/expected.json")
        let handshakes = try #require(expected["_handshake"] as? [String: [String: Any]])
        let request = Self.snsRequest(try Self.sidecar("sns/headers.json"))
        let allowed = SourceCredentials(secrets: [], replayWindow: 0, allowedTopics: [Self.topic])
        for (file, handshake) in handshakes {
            let received = try await SESProvider(certificates: try FixtureCertificates())
                .receive(try request(file, try Fixtures.bytes("sns/\(file)")), source: "default", credentials: allowed, now: Date())
            #expect(received.events.isEmpty)
            let subscription = try #require(received.subscription)
            #expect(subscription.topicArn == handshake["topicArn"] as? String)
            #expect(
                subscription.kind == (handshake["action"] as? String == "confirm" ? "SubscriptionConfirmation" : "UnsubscribeConfirmation"))
            if let url = handshake["subscribeURL"] as? String { #expect(subscription.url == url) }
            // A topic the source does not list is refused, confirmation or not.
            let other = SourceCredentials(secrets: [], replayWindow: 0, allowedTopics: ["arn:aws:sns:us-east-1:123456789012:other"])
            await #expect(throws: WebhookError.self) {
                try await SESProvider(certificates: try FixtureCertificates())
                    .receive(try request(file, try Fixtures.bytes("sns/\(file)")), source: "default", credentials: other, now: Date())
            }
        }
    }
}
