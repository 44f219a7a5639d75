import Foundation
import SwiftASN1
import Testing
import X509

@testable import Providers

/// Known-answer vectors made outside Swift (Scripts/dev/esp_vectors.py, Python `cryptography`)
/// and the Standard Webhooks spec's own vector. A valid case must pass authentication (it may
/// then fail as `malformed` when its body is not an event of that ESP); an invalid one must fail
/// authentication.
@Suite struct MoreSignatureVectorTests {
    static func cases(_ file: String) throws -> [[String: Any]] {
        let table = try #require(try Fixtures.json("vectors/\(file).json") as? [String: Any])
        return try #require(table["cases"] as? [[String: Any]])
    }

    static func body(_ vector: [String: Any]) throws -> [UInt8] {
        let text = try #require(vector["bodyBase64"] as? String)
        return Array(try #require(Data(base64Encoded: text)))
    }

    /// nil when authentication passed, else the error code.
    static func authFailure(_ work: () async throws(WebhookError) -> ReceivedWebhook) async -> WebhookError.Code? {
        do {
            _ = try await work()
            return nil
        } catch {
            return error.code == .malformed ? nil : error.code
        }
    }

    @Test func mailersend() async throws {
        for vector in try Self.cases("mailersend-hmac") {
            let request = WebhookRequest(
                headers: ["content-type": "application/json", "signature": vector["signature"] as? String ?? ""],
                body: try Self.body(vector), receivedAt: Date()
            )
            let credentials = SourceCredentials(secrets: [vector["secret"] as? String ?? ""], replayWindow: 0)
            let failure = await Self.authFailure { () async throws(WebhookError) in
                try await MailerSendProvider().receive(request, source: "default", credentials: credentials, now: Date())
            }
            #expect((failure == nil) == (vector["valid"] as? Bool == true), "\(vector["name"] ?? "?"): \(String(describing: failure))")
        }
    }

    @Test func standardWebhooks() async throws {
        let cases = try Self.cases("standardwebhooks")
        #expect(cases.contains { $0["valid"] as? Bool == true && ($0["note"] as? String ?? "").contains("published") })
        try await Self.checkStandardWebhooks(cases) { [$0["secret"] as? String ?? ""] }
    }

    /// Asymmetric signatures: the Go reference library's published vector, the spec's example
    /// entry, and our own cases, against sources holding `whpk_` keys, `whsec_` secrets or both.
    @Test func standardWebhooksV1a() async throws {
        let cases = try Self.cases("standardwebhooks-v1a")
        #expect(cases.filter { $0["source"] != nil && $0["valid"] as? Bool == true }.count == 2)
        try await Self.checkStandardWebhooks(cases) { try #require($0["secrets"] as? [String]) }
    }

    /// Each case through both Standard Webhooks providers, with the secrets `secrets` reads from it.
    static func checkStandardWebhooks(_ cases: [[String: Any]], secrets: ([String: Any]) throws -> [String]) async throws {
        for vector in cases {
            let headers = try #require(vector["headers"] as? [String: String])
            let request = WebhookRequest(
                headers: headers.merging(["content-type": "application/json"]) { a, _ in a }, body: try Self.body(vector),
                receivedAt: Date())
            let now = Date(timeIntervalSince1970: (vector["verifyAt"] as? NSNumber)?.doubleValue ?? 0)
            let credentials = SourceCredentials(secrets: try secrets(vector), replayWindow: 300)
            for provider in [StandardWebhooksProvider() as any WebhookProvider, ResendProvider()] {
                let failure = await Self.authFailure { () async throws(WebhookError) in
                    try await provider.receive(request, source: "default", credentials: credentials, now: now)
                }
                #expect(
                    (failure == nil) == (vector["valid"] as? Bool == true),
                    "\(vector["name"] ?? "?") via \(provider.provider): \(String(describing: failure))")
            }
        }
    }

    /// Every entry costs a pass over the body, so only the first ten are looked at: a header of a
    /// thousand bogus entries costs ten.
    @Test func onlyTheFirstSignatureEntriesCount() async throws {
        let vector = try #require(try Self.cases("standardwebhooks").first { $0["name"] as? String == "upstream-sign-function" })
        let headers = try #require(vector["headers"] as? [String: String])
        let now = Date(timeIntervalSince1970: (vector["verifyAt"] as? NSNumber)?.doubleValue ?? 0)
        let credentials = SourceCredentials(secrets: [vector["secret"] as? String ?? ""], replayWindow: 300)
        for (bogus, valid) in [(9, true), (10, false), (1000, false)] {
            var signed = headers
            signed["webhook-signature"] = String(repeating: "v1,AAAA ", count: bogus) + (headers["webhook-signature"] ?? "")
            let request = WebhookRequest(headers: signed, body: try Self.body(vector), receivedAt: now)
            let failure = await Self.authFailure { () async throws(WebhookError) in
                try await StandardWebhooksProvider().receive(request, source: "default", credentials: credentials, now: now)
            }
            #expect((failure == nil) == valid, "\(bogus) bogus entries first: \(String(describing: failure))")
        }
    }

    @Test func standardWebhooksKeysThatCanNeverVerifyAreNamed() {
        let provider = StandardWebhooksProvider()
        #expect(provider.unusableSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw") == nil)
        #expect(provider.unusableSecret("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=") == nil)
        #expect(provider.unusableSecret("whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4") == nil)  // padding lost
        #expect(provider.unusableSecret("whpk_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB")?.contains("32-byte") == true)
        #expect(
            provider.unusableSecret("whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==")?
                .contains("public key") == true)
        #expect(provider.unusableSecret("not base64!") != nil)
        #expect(provider.unusableSecret("whsec_")?.contains("24 bytes") == true)  // an empty key: anyone could sign
        #expect(provider.unusableSecret("whsec_" + Data(repeating: 7, count: 23).base64EncodedString())?.contains("24 bytes") == true)
        #expect(ResendProvider().unusableSecret("whsk_AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=") != nil)
        #expect(MailgunProvider().unusableSecret("anything") == nil)
    }

    @Test func mandrill() async throws {
        for vector in try Self.cases("mandrill") {
            let request = WebhookRequest(
                headers: [
                    "content-type": "application/x-www-form-urlencoded", "x-mandrill-signature": vector["signature"] as? String ?? "",
                ],
                body: Array((vector["formBody"] as? String ?? "").utf8), receivedAt: Date()
            )
            let credentials = SourceCredentials(secrets: [vector["key"] as? String ?? ""], replayWindow: 0, url: vector["url"] as? String)
            let failure = await Self.authFailure { () async throws(WebhookError) in
                try await MandrillProvider().receive(request, source: "default", credentials: credentials, now: Date())
            }
            #expect((failure == nil) == (vector["valid"] as? Bool == true), "\(vector["name"] ?? "?"): \(String(describing: failure))")
        }
    }

    @Test func snsSignatures() async throws {
        let table = try #require(try Fixtures.json("vectors/sns.json") as? [String: Any])
        let topic = try #require(table["topicArn"] as? String)
        let source = try FixtureCertificates()
        for vector in try #require(table["cases"] as? [[String: Any]]) {
            let request = WebhookRequest(
                headers: ["content-type": "text/plain; charset=UTF-8"], body: Array((vector["body"] as? String ?? "").utf8),
                receivedAt: Date())
            let credentials = SourceCredentials(secrets: [], replayWindow: 0, allowedTopics: [topic])
            let failure = await Self.authFailure { () async throws(WebhookError) in
                try await SESProvider(certificates: source).receive(request, source: "default", credentials: credentials, now: Date())
            }
            #expect((failure == nil) == (vector["accept"] as? Bool == true), "\(vector["name"] ?? "?"): \(String(describing: failure))")
        }
        let policy = try #require(table["certURLPolicy"] as? [String: Any])
        for item in try #require(policy["cases"] as? [[String: Any]]) {
            let url = item["url"] as? String ?? ""
            #expect(SNSMessage.isAllowedCertificateURL(url) == (item["allowed"] as? Bool == true), "\(url)")
        }
    }
}

/// The fixture's stand-in SNS certificate for every (allowed) certificate URL.
struct FixtureCertificates: SNSCertificateSource {
    let certificate: Certificate

    init() throws {
        certificate = try Certificate(pemEncoded: String(decoding: try Fixtures.bytes("sns/cert.pem"), as: UTF8.self))
    }

    func certificate(for reference: SNSCertificateReference) async throws -> Certificate { certificate }
}
