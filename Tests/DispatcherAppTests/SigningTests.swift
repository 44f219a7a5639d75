import Crypto
import EventStore
import Foundation
import Testing

@testable import DispatcherApp

@Suite struct SigningTests {
    /// The Standard Webhooks specification's own published vector.
    @Test func signsTheSpecificationsVector() {
        let signature = WebhookSigner.signature(
            id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Array(#"{"test": 2432232314}"#.utf8),
            secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func aRotationSignsWithEverySecretNewestFirst() {
        let old = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
        let new = WebhookSecret.generate()
        let body = Array("{}".utf8)
        let both = WebhookSigner.signature(id: "evt_1", timestamp: 1, body: body, secrets: [new, old])
        let parts = both.split(separator: " ").map(String.init)
        #expect(parts.count == 2)
        #expect(parts[0] == WebhookSigner.signature(id: "evt_1", timestamp: 1, body: body, secrets: [new]))
        #expect(parts[1] == WebhookSigner.signature(id: "evt_1", timestamp: 1, body: body, secrets: [old]))
        // A secret that is not whsec_ base64 signs nothing rather than something wrong.
        #expect(WebhookSigner.signature(id: "evt_1", timestamp: 1, body: body, secrets: ["not-a-secret"]).isEmpty)
    }

    @Test func generatedSecretsAreValidAndDistinct() throws {
        let a = WebhookSecret.generate()
        let b = WebhookSecret.generate()
        #expect(a != b)
        #expect(WebhookSecret.key(of: a)?.bitCount == 256)
        try WebhookSecret.validate(a)
        #expect(throws: EndpointError.self) { try WebhookSecret.validate("whsec_c2hvcnQ=") }
        #expect(throws: EndpointError.self) { try WebhookSecret.validate("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") }
    }

    @Test func aBatchIsAJSONArrayAndKeepsItsIDAcrossRetries() throws {
        let deliveries = [
            ClaimedDelivery(id: 7, attempt: 1, eventID: "evt_a", payload: #"{"a":1}"#),
            ClaimedDelivery(id: 9, attempt: 1, eventID: "evt_b", payload: #"{"b":2}"#),
        ]
        let body = WebhookSigner.body(deliveries.compactMap(\.payload), batched: true)
        let parsed = try JSONSerialization.jsonObject(with: Data(body)) as? [[String: Int]]
        #expect(parsed == [["a": 1], ["b": 2]])
        #expect(WebhookSigner.body([#"{"a":1}"#], batched: false) == Array(#"{"a":1}"#.utf8))
        let id = WebhookSigner.requestID(deliveries)
        #expect(id.hasPrefix("batch_") && id.count == 38)
        var retried = deliveries
        retried[0].attempt = 2
        #expect(WebhookSigner.requestID(retried) == id)
        #expect(WebhookSigner.requestID(Array(deliveries.prefix(1))) == "evt_a")
        #expect(WebhookSigner.requestID(Array(deliveries.suffix(1))) != id)
    }
}

@Suite struct EndpointDraftTests {
    static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

    @Test func refusesWhatTheTableWould() {
        let good = EndpointDraft(name: "crm", url: "https://crm.example/hooks", secret: Self.secret)
        #expect(throws: Never.self) { try good.validate() }
        let bad: [EndpointDraft] = [
            EndpointDraft(name: "", url: good.url, secret: Self.secret),
            EndpointDraft(name: "a b", url: good.url, secret: Self.secret),
            EndpointDraft(name: String(repeating: "a", count: 65), url: good.url, secret: Self.secret),
            EndpointDraft(name: "crm", url: "ftp://crm.example/", secret: Self.secret),
            EndpointDraft(name: "crm", url: "https://", secret: Self.secret),
            EndpointDraft(name: "crm", url: "crm.example/hooks", secret: Self.secret),
            EndpointDraft(name: "crm", url: good.url, secret: "whsec_"),
            EndpointDraft(name: "crm", url: good.url, secret: Self.secret, batchSize: 0),
            EndpointDraft(name: "crm", url: good.url, secret: Self.secret, batchSize: 1001),
            EndpointDraft(name: "crm", url: good.url, secret: Self.secret, rateLimit: 0),
            EndpointDraft(name: "crm", url: good.url, secret: Self.secret, rateLimit: -1),
            EndpointDraft(name: "crm", url: good.url, secret: Self.secret, rateLimit: .infinity),
            EndpointDraft(name: "crm", url: good.url, secret: Self.secret, rateLimit: .nan),
        ]
        for draft in bad { #expect(throws: EndpointError.self, "\(draft)") { try draft.validate() } }
    }

    @Test func filtersTakeThePayloadsTypeNamesAndAnyCase() {
        let filter = EndpointFilter(eventTypes: ["email.bounced", "complained"], providers: ["SendGrid"], senderDomains: ["News.Example"])
        #expect(filter.eventTypes == ["bounced", "complained"])
        #expect(filter.providers == ["sendgrid"])
        #expect(filter.senderDomains == ["news.example"])
        #expect(!filter.isEmpty && EndpointFilter().isEmpty)
    }

    @Test func onlyUnexpiredSecretsSign() {
        let now = Date()
        let endpoint = WebhookEndpoint(
            id: 1, name: "crm", url: "https://crm.example", description: "",
            secrets: [
                EndpointSecret(secret: "new"), EndpointSecret(secret: "old", expiresAt: now.addingTimeInterval(60)),
                EndpointSecret(secret: "older", expiresAt: now.addingTimeInterval(-1)),
            ], filter: EndpointFilter(), batchSize: 1, rateLimit: nil, enabled: true, disabledReason: nil, failingSince: nil,
            managedBy: "cli")
        #expect(endpoint.signingSecrets(at: now) == ["new", "old"])
        #expect(endpoint.signingSecrets(at: now.addingTimeInterval(61)) == ["new"])
    }
}
