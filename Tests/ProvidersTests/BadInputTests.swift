import Crypto
import EmailEvents
import Foundation
import ProviderSamples
import Testing

@testable import Providers

/// Every kind of bad request gets its typed error; none crashes a normalizer.
@Suite struct BadInputTests {
    static let now = Date(timeIntervalSince1970: 1_700_000_000)
    static let mailgunKey = "test-signing-key"
    static let mailgun = SourceCredentials(secrets: [mailgunKey], replayWindow: 300)

    static func signedMailgun(signedAt: Date = now, eventData: String? = nil) -> WebhookRequest {
        let sample = SampleEvent(espEvent: "delivered", id: "evt-1", recipient: "a@example.com", occurredAt: now)
        var webhook = SampleWebhooks.mailgun(sample, signingKey: mailgunKey, signedAt: signedAt)
        if let eventData {
            // Re-sign a body whose event-data is replaced (still authentic).
            let body = String(decoding: webhook.body, as: UTF8.self)
            let range = JSONScanner.valueRange(ofTopLevelKey: "event-data", in: webhook.body)!
            webhook.body =
                Array(body.utf8[..<body.utf8.index(body.utf8.startIndex, offsetBy: range.lowerBound)]) + Array(eventData.utf8)
                + Array(body.utf8[body.utf8.index(body.utf8.startIndex, offsetBy: range.upperBound)...])
        }
        return WebhookRequest(headers: webhook.headers, body: webhook.body, receivedAt: now)
    }

    func mailgunError(_ request: WebhookRequest, now: Date = now) async -> WebhookError.Code? {
        do {
            _ = try await MailgunProvider().receive(request, source: "default", credentials: Self.mailgun, now: now)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func mailgunAcceptsItsOwnSample() async throws {
        #expect(await mailgunError(Self.signedMailgun()) == nil)
    }

    @Test func mailgunForgedMissingStaleAndWrongType() async throws {
        // Mailgun signs timestamp + token, not the body: a forgery shows in the signature.
        var forged = Self.signedMailgun()
        let text = String(decoding: forged.body, as: UTF8.self)
        let signature = try #require(text.range(of: #""signature":""#)?.upperBound)
        let flipped = text[signature] == "0" ? "1" : "0"
        forged.body = Array(text.replacingCharacters(in: signature...signature, with: flipped).utf8)
        #expect(await mailgunError(forged) == .badSignature)

        let unsigned = WebhookRequest(
            headers: ["content-type": "application/json"], body: Array(#"{"event-data":{"event":"delivered"}}"#.utf8), receivedAt: Self.now)
        #expect(await mailgunError(unsigned) == .missingCredentials)

        #expect(await mailgunError(Self.signedMailgun(signedAt: Self.now - 301)) == .staleTimestamp)
        #expect(await mailgunError(Self.signedMailgun(signedAt: Self.now + 301)) == .staleTimestamp)
        #expect(await mailgunError(Self.signedMailgun(signedAt: Self.now - 299)) == nil)

        // The declared type refuses nothing: a signed JSON body is read as JSON whatever it says.
        var form = Self.signedMailgun()
        form.headers["content-type"] = "application/x-www-form-urlencoded"
        #expect(await mailgunError(form) == nil)

        let garbage = WebhookRequest(headers: ["content-type": "application/json"], body: Array("{not json".utf8), receivedAt: Self.now)
        #expect(await mailgunError(garbage) == .unreadable)
    }

    @Test func mailgunAuthenticButUnparseableIsMalformed() async {
        #expect(await mailgunError(Self.signedMailgun(eventData: #"[1,2]"#)) == .malformed)
        #expect(await mailgunError(Self.signedMailgun(eventData: #"{"id":"x","timestamp":1700000000}"#)) == .malformed)
    }

    /// Real Mailgun events without an id or a timestamp (or with an impossible one) are accepted:
    /// the receive time, marked estimated, and a key from the event's own bytes, the same on a retry.
    @Test func mailgunEventWithoutIdOrTimeIsAcceptedWithAStableKey() async throws {
        for data in [
            #"{"event":"delivered"}"#, #"{"event":"delivered","id":"x","timestamp":1e13}"#, #"{"event":"opened","timestamp":"soon"}"#,
        ] {
            let first = try await MailgunProvider().receive(
                Self.signedMailgun(eventData: data), source: "default", credentials: Self.mailgun, now: Self.now)
            let retry = try await MailgunProvider().receive(
                Self.signedMailgun(signedAt: Self.now - 5, eventData: data), source: "default", credentials: Self.mailgun, now: Self.now)
            let event = try #require(first.events.first)
            #expect(event.occurredAt == Self.now && event.occurredAtEstimated == true, "\(data)")
            #expect(event.eventKey.hasPrefix("c:") && event.eventKey == retry.events.first?.eventKey, "\(data)")
        }
    }

    @Test func mailgunUnknownEventIsKeptAsUnknown() async throws {
        let request = Self.signedMailgun(eventData: #"{"event":"stored","id":"x1","timestamp":1700000000}"#)
        let event = try #require(
            try await MailgunProvider().receive(request, source: "default", credentials: Self.mailgun, now: Self.now).events.first)
        #expect(event.type == .unknown)
        #expect(event.espEvent == "stored")
    }

    static let sendgridKey = P256.Signing.PrivateKey()
    static var sendgrid: SourceCredentials {
        SourceCredentials(secrets: [sendgridKey.publicKey.derRepresentation.base64EncodedString()], replayWindow: 0)
    }

    static func signedSendGrid(_ body: String, at: Date = now) -> WebhookRequest {
        let timestamp = String(Int(at.timeIntervalSince1970))
        let signature = try! sendgridKey.signature(for: Data((timestamp + body).utf8)).derRepresentation.base64EncodedString()
        return WebhookRequest(
            headers: [
                "content-type": "application/json", SendGridProvider.signatureHeader: signature,
                SendGridProvider.timestampHeader: timestamp,
            ],
            body: Array(body.utf8), receivedAt: now
        )
    }

    func sendgridError(_ request: WebhookRequest, credentials: SourceCredentials = sendgrid) async -> WebhookError.Code? {
        do {
            _ = try await SendGridProvider().receive(request, source: "default", credentials: credentials, now: Self.now)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func sendgridBadInputs() async {
        let good = #"[{"event":"delivered","email":"a@b.c","timestamp":1700000000,"sg_event_id":"e1"}]"#
        #expect(await sendgridError(Self.signedSendGrid(good)) == nil)
        #expect(await sendgridError(Self.signedSendGrid("[]")) == nil)

        var missing = Self.signedSendGrid(good)
        missing.headers[SendGridProvider.signatureHeader] = nil
        #expect(await sendgridError(missing) == .missingCredentials)

        var notBase64 = Self.signedSendGrid(good)
        notBase64.headers[SendGridProvider.signatureHeader] = "%%%"
        #expect(await sendgridError(notBase64) == .badSignature)

        #expect(await sendgridError(Self.signedSendGrid("{\"event\":\"delivered\"}")) == .malformed)
        #expect(await sendgridError(Self.signedSendGrid("[1, 2]")) == .malformed)
        #expect(await sendgridError(Self.signedSendGrid(#"[{"event":"open"}]"#)) == nil, "no timestamp: the receive time, estimated")
        #expect(await sendgridError(Self.signedSendGrid("[{\"event\":\"open\",")) == .malformed)

        let windowed = SourceCredentials(secrets: Self.sendgrid.secrets, replayWindow: 600)
        #expect(await sendgridError(Self.signedSendGrid(good, at: Self.now - 601), credentials: windowed) == .staleTimestamp)
        #expect(await sendgridError(Self.signedSendGrid(good, at: Self.now - 601)) == nil)

        var text = Self.signedSendGrid(good)
        text.headers["content-type"] = "text/plain"
        #expect(await sendgridError(text) == nil, "authentication decides, not the declared type")
    }

    @Test func sendgridEventWithoutIdGetsAStableKey() async throws {
        let body = #"[{"event":"delivered","email":"a@b.c","timestamp":1700000000}]"#
        let first = try await SendGridProvider().receive(
            Self.signedSendGrid(body), source: "default", credentials: Self.sendgrid, now: Self.now)
        let second = try await SendGridProvider().receive(
            Self.signedSendGrid(body), source: "default", credentials: Self.sendgrid, now: Self.now)
        #expect(first.events[0].eventKey.hasPrefix("sha256:"))
        #expect(first.events[0].eventKey == second.events[0].eventKey)
    }

    /// Thousands of mutated fixtures of every provider (truncated, bit-flipped, spliced, deeply
    /// nested, huge numbers, wrong types), authentication off so the parsers are reached: only
    /// typed errors or events may come out, never a crash.
    @Test func mutatedFixturesNeverCrash() async throws {
        let folders: [(String, any WebhookProvider, String)] = [
            ("mailgun", MailgunProvider(), "application/json"), ("sendgrid", SendGridProvider(), "application/json"),
            ("postmark", CredentialedJSONProvider.postmark, "application/json"), ("sparkpost", SparkPostProvider(), "application/json"),
            ("brevo", CredentialedJSONProvider.brevo, "application/json"),
            ("mailjet", CredentialedJSONProvider.mailjet, "application/json"),
            ("mailersend", MailerSendProvider(), "application/json"), ("resend", ResendProvider(), "application/json"),
            ("mandrill", MandrillProvider(), "application/x-www-form-urlencoded"), ("ses", SESProvider(), "text/plain"),
        ]
        var generator = SplitMix64(seed: 0x5057_4952_45)
        let open = SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true)
        var outcomes = [0, 0]
        for (folder, provider, contentType) in folders {
            let files = try FileManager.default.contentsOfDirectory(atPath: Fixtures.root.appendingPathComponent(folder).path)
                .filter {
                    ($0.hasSuffix(".json") || $0.hasSuffix(".form")) && !$0.contains("expected") && !$0.contains("signature")
                        && !$0.contains("headers")
                }
            let seeds = try files.map { try Fixtures.bytes("\(folder)/\($0)") }
            try #require(!seeds.isEmpty, "\(folder) has no fixtures")
            for round in 0..<600 {
                let body = Mutator.mutate(seeds[round % seeds.count], using: &generator)
                let request = WebhookRequest(headers: ["content-type": contentType], body: body, receivedAt: Self.now)
                do {
                    _ = try await provider.receive(request, source: "default", credentials: open, now: Self.now)
                    outcomes[0] += 1
                } catch {
                    #expect(WebhookError.Code.allCases.contains(error.code))
                    outcomes[1] += 1
                }
            }
        }
        #expect(outcomes[0] + outcomes[1] == 6000)
        #expect(outcomes[0] > 0 && outcomes[1] > 0)
    }
}

/// A small deterministic PRNG so a failing mutation can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

enum Mutator {
    static func mutate(_ seed: [UInt8], using rng: inout SplitMix64) -> [UInt8] {
        var bytes = seed
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: bytes = Array(bytes.prefix(Int.random(in: 0...bytes.count, using: &rng)))
        case 1:
            for _ in 0..<Int.random(in: 1...8, using: &rng) where !bytes.isEmpty {
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            }
        case 2: bytes = Array(String(repeating: "[", count: 5000).utf8) + bytes
        case 3: bytes = replace(bytes, "1700000", with: "9" + String(repeating: "9", count: 400))
        case 4: bytes = replace(bytes, "\"delivered\"", with: "{\"a\":[1,2,{\"b\":null}]}")
        case 5: bytes = replace(bytes, "\"timestamp\": ", with: "\"timestamp\": \"not a number\", \"x\": ")
        case 6:
            let cut = Int.random(in: 0...bytes.count, using: &rng)
            bytes.insert(contentsOf: Array("\u{0}\\\"\u{7f}ÿ".utf8), at: cut)
        default: bytes = Array(String(repeating: "{\"a\":", count: 3000).utf8)
        }
        return bytes
    }

    static func replace(_ bytes: [UInt8], _ target: String, with replacement: String) -> [UInt8] {
        Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: target, with: replacement).utf8)
    }
}
