import Foundation
import Testing

@testable import Providers

/// Known-answer tests: keys and signatures made outside Swift (Scripts/dev/make-test-vectors.py,
/// Python `cryptography`), and SendGrid's own published vectors.
@Suite struct SignatureVectorTests {
    static let signedAt = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func mailgunHMACVectors() async throws {
        let vectors = try #require(try Fixtures.json("vectors/mailgun-hmac.json") as? [[String: String]])
        #expect(vectors.count >= 4)
        for vector in vectors {
            let key = try #require(vector["signingKey"])
            let body = Self.mailgunBody(timestamp: vector["timestamp"]!, token: vector["token"]!, signature: vector["signature"]!)
            let credentials = SourceCredentials(secrets: [key], replayWindow: 0)
            let received = try await MailgunProvider().receive(body, source: "default", credentials: credentials, now: Self.signedAt)
            #expect(received.replayNonce == "mailgun:" + vector["token"]!)
            // The same request under another key must not verify.
            let wrong = SourceCredentials(secrets: [key + "x"], replayWindow: 0)
            await #expect(throws: WebhookError.self) {
                try await MailgunProvider().receive(body, source: "default", credentials: wrong, now: Self.signedAt)
            }
        }
    }

    @Test func sendgridECDSAVectors() async throws {
        let file = try #require(try Fixtures.json("vectors/sendgrid-ecdsa.json") as? [String: Any])
        let publicKey = try #require(file["publicKey"] as? String)
        let cases = try #require(file["cases"] as? [[String: Any]])
        #expect(cases.filter { $0["valid"] as? Bool == true }.count >= 3)
        #expect(cases.contains { $0["highS"] as? Bool == true && $0["valid"] as? Bool == true })
        for vector in cases {
            try await Self.checkSendGrid(vector, publicKey: publicKey)
        }
    }

    @Test func sendgridPublishedVectors() async throws {
        let cases = try #require(try Fixtures.json("vectors/sendgrid-ecdsa-upstream.json") as? [[String: Any]])
        #expect(!cases.isEmpty)
        for vector in cases {
            let publicKey = try #require(vector["publicKey"] as? String)
            try await Self.checkSendGrid(vector, publicKey: publicKey)
        }
    }

    static func checkSendGrid(_ vector: [String: Any], publicKey: String) async throws {
        let bodyBase64 = try #require(vector["bodyBase64"] as? String)
        let body = try #require(Data(base64Encoded: bodyBase64))
        let signature = try #require(vector["signature"] as? String)
        let timestamp = try #require(vector["timestamp"] as? String)
        let request = WebhookRequest(
            headers: [
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": signature,
                "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
            ],
            body: Array(body), receivedAt: signedAt
        )
        let credentials = SourceCredentials(secrets: [publicKey], replayWindow: 0)
        let name = vector["name"] as? String ?? "?"
        do {
            _ = try await SendGridProvider().receive(request, source: "default", credentials: credentials, now: signedAt)
            #expect(vector["valid"] as? Bool == true, "case \(name) verified but should not")
        } catch {
            // An invalid signature fails as such; a valid one may only fail if its body is not a batch.
            if vector["valid"] as? Bool == true {
                #expect(error.code == .malformed, "case \(name): \(error)")
            } else {
                #expect(error.code == .badSignature, "case \(name): \(error)")
            }
        }
    }

    static func mailgunBody(timestamp: String, token: String, signature: String, eventData: String? = nil) -> WebhookRequest {
        let data = eventData ?? #"{"event":"delivered","id":"abc","timestamp":1700000000.5,"recipient":"a@b.c"}"#
        let body = #"{"signature":{"timestamp":"\#(timestamp)","token":"\#(token)","signature":"\#(signature)"},"event-data":\#(data)}"#
        return WebhookRequest(headers: ["content-type": "application/json"], body: Array(body.utf8), receivedAt: signedAt)
    }
}
