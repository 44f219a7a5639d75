import EmailEvents
import Foundation
import Testing

@testable import Providers

/// Mailgun's legacy (form-encoded) webhooks are accepted and normalized, with the real signature
/// check: they used to be answered 415, which Mailgun retries for hours and then drops.
@Suite struct MailgunLegacyTests {
    static let credentials = SourceCredentials(secrets: ["postwire-fixture-signing-key"], replayWindow: 0)

    static func receive(_ file: String, contentType: String = "application/x-www-form-urlencoded") async throws -> ReceivedWebhook {
        let request = WebhookRequest(
            headers: ["content-type": contentType], body: try Fixtures.bytes("mailgun-legacy/\(file)"), receivedAt: Date())
        return try await MailgunProvider().receive(request, source: "default", credentials: credentials, now: Date())
    }

    @Test func delivered() async throws {
        let received = try await Self.receive("delivered.form")
        let event = try #require(received.events.first)
        #expect(received.events.count == 1 && received.rejected.isEmpty)
        #expect(event.type == .delivered && event.espEvent == "delivered")
        #expect(event.occurredAt == Date(timeIntervalSince1970: 1_461_261_330) && event.occurredAtEstimated == nil)
        #expect(event.recipient == "recipient@example.com" && event.sender == "from@example.com")
        #expect(event.messageId == "20160421175529.19495.89030.B3AE3728@example.com")
        #expect(event.tags == ["newsletter"], "delivered posts carry X-Mailgun-Tag")
        #expect(event.metadata == ["campaign": "spring", "user_id": "42"], "from the X-Mailgun-Variables header")
        #expect(event.campaign == "spring")
        #expect(received.replayNonce == "mailgun:06c96bafc3f42a66b9edd546347a2fe18dc23461fe80dc52f0")
        #expect(JSONObject.parse(event.raw)?.text("event") == "delivered", "raw is the form as JSON")
    }

    @Test func droppedIsARejectionWithItsReason() async throws {
        let event = try #require(try await Self.receive("dropped.form").events.first)
        #expect(event.type == .rejected && event.rejectReason == .bounced && event.smtpCode == 605)
        #expect(event.description == "Not delivering to previously bounced address")
    }

    @Test func openedKeepsCustomVariablesAndTrustsTheLastToken() async throws {
        let received = try await Self.receive("opened.form")
        let event = try #require(received.events.first)
        #expect(event.type == .opened && event.tags == ["spring", "vip"] && event.ip == "50.56.129.169")
        #expect(event.metadata["my_var_1"] == "Mailgun Variable #1" && event.metadata["my-var-2"] == "awesome")
        #expect(event.deliveryId == "c2eecf923f9820812338de117346d6448ea2cf7e2e98cfa1a0")
    }

    @Test func multipartBounceWithAnAttachment() async throws {
        let event = try #require(
            try await Self.receive("bounced.multipart", contentType: "multipart/form-data; boundary=c1b2d3e4f5a6b7c8").events.first)
        #expect(event.type == .bounced && event.bounceClass == .hard && event.smtpCode == 550)
        #expect(event.mtaResponse?.hasPrefix("5.1.1 The email account") == true)
        #expect(event.raw.count < 1000, "the attached message is not kept")
    }

    @Test func aForgedOrUnsignedFormIsRefused() async throws {
        var body = String(decoding: try Fixtures.bytes("mailgun-legacy/opened.form"), as: UTF8.self)
        body = body.replacingOccurrences(of: "event=opened", with: "event=clicked")  // the body is not signed: still valid
        let request = WebhookRequest(
            headers: ["content-type": "application/x-www-form-urlencoded"], body: Array(body.utf8), receivedAt: Date())
        #expect(
            try await MailgunProvider().receive(request, source: "default", credentials: Self.credentials, now: Date()).events.first?.type
                == .clicked)
        let forged = body.replacingOccurrences(of: "token=c2ee", with: "token=d2ee")
        await #expect(throws: WebhookError(.badSignature, "signature does not match any configured signing key")) {
            try await MailgunProvider().receive(
                WebhookRequest(
                    headers: ["content-type": "application/x-www-form-urlencoded"], body: Array(forged.utf8), receivedAt: Date()),
                source: "default", credentials: Self.credentials, now: Date())
        }
        await #expect(throws: WebhookError.self) {
            try await MailgunProvider().receive(
                WebhookRequest(headers: [:], body: Array("event=delivered&recipient=a%40b.c".utf8), receivedAt: Date()), source: "default",
                credentials: Self.credentials, now: Date())
        }
    }

    @Test func multipartEdgeCases() {
        #expect(MultipartForm.boundary(ofContentType: #"multipart/form-data; boundary="abc""#) == "abc")
        #expect(MultipartForm.boundary(ofContentType: "multipart/form-data") == nil)
        #expect(MultipartForm.boundary(ofContentType: "multipart/form-data; boundary=" + String(repeating: "x", count: 71)) == nil)
        #expect(MultipartForm.parse(Array("no boundary here".utf8), boundary: "b") == nil)
        #expect(MultipartForm.parse(Array("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--b".utf8), boundary: "b") == nil)
        let fields = MultipartForm.parse(
            Array("--b\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nx\r\ny\r\n--b--".utf8), boundary: "b")
        #expect(fields?.first?.0 == "a" && fields?.first?.1 == "x\r\ny")
    }
}
