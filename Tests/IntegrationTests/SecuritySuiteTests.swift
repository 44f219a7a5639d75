import EmailEvents
import Foundation
import IngressApp
import PostwireConfig
import RedisStreams
import Testing

@testable import Providers

/// For every provider, over a thousand requests made from a genuine one by changing what its
/// scheme authenticates: signature bits, signature encodings, signed timestamps, credential
/// headers and values, bodies under a body signature, and replays of requests already stored.
/// None may be answered 2xx, and nothing may reach the stream or the quarantine.
@Suite struct SecuritySuiteTests {
    /// What each scheme covers, so a mutation there must be refused.
    enum Scheme { case mailgun, bodySignature, headerCredentials, apiKey, sns }

    static let schemes: [(String, Scheme)] = [
        ("mailgun", .mailgun), ("sendgrid", .bodySignature), ("mandrill", .bodySignature), ("mailersend", .bodySignature),
        ("resend", .bodySignature), ("standardwebhooks", .bodySignature), ("postmark", .headerCredentials),
        ("sparkpost", .headerCredentials), ("brevo", .headerCredentials), ("mailjet", .headerCredentials), ("ses", .sns),
        ("ses-eventbridge", .apiKey),
    ]

    static func payload(_ provider: String) throws -> [UInt8] {
        switch provider {
        case "mailgun":
            let bytes = try AllProvidersIngressTests.read("mailgun/delivered.json")
            return Array(bytes[try #require(JSONScanner.valueRange(atPath: ["event-data"], in: bytes))])
        case "sendgrid": return try AllProvidersIngressTests.read("sendgrid/batch.json")
        case "mandrill": return Array(try PartialBatchTests.goodElements("mandrill").prefix(3).joined(separator: ",").utf8).wrapped
        case "mailersend": return try AllProvidersIngressTests.read("mailersend/activity.delivered.json")
        case "resend", "standardwebhooks": return try AllProvidersIngressTests.read("resend/email.delivered.json")
        case "postmark": return try AllProvidersIngressTests.read("postmark/delivery.json")
        case "sparkpost": return try AllProvidersIngressTests.read("sparkpost/batch.json")
        case "brevo": return try AllProvidersIngressTests.read("brevo/batch.json")
        case "mailjet": return try AllProvidersIngressTests.read("mailjet/grouped.json")
        case "ses-eventbridge": return try AllProvidersIngressTests.read("ses-eventbridge/bounce.json")
        default: return try AllProvidersIngressTests.read("ses/delivery.json")
        }
    }

    /// `text` with one character really changed: not just its case (hex and HTTP auth schemes
    /// ignore case), and not in the last four characters (a base64 string's last digit before its
    /// padding has bits that decode to nothing), so the change is one the verifier sees.
    static func flip(_ text: String, _ generator: inout SplitMix64) -> String {
        guard text.count > 1 else { return "x" }
        var characters = Array(text)
        let i = Int.random(in: 0..<(characters.count > 8 ? characters.count - 4 : characters.count), using: &generator)
        let original = characters[i].lowercased()
        characters[i] = Array("0123456789abcdefghijklmnopqrstuvwxyz").filter { String($0) != original }.randomElement(using: &generator)!
        return String(characters)
    }

    /// One unauthentic variant of `genuine`.
    static func mutate(_ genuine: Signers.Request, scheme: Scheme, round: Int, _ generator: inout SplitMix64) -> Signers.Request {
        var request = genuine
        let credentialHeaders = [
            "authorization", "x-twilio-email-event-webhook-signature", "x-twilio-email-event-webhook-timestamp",
            "x-mandrill-signature", "signature", "svix-signature", "svix-timestamp", "svix-id", "x-api-key",
        ].filter { request.headers[$0] != nil }
        switch (scheme, round % 5) {
        case (.mailgun, _):
            // Mailgun signs only the signature block: break its signature, timestamp or token.
            let text = String(decoding: request.body, as: UTF8.self)
            let field = ["\"signature\":\"", "\"timestamp\":\"", "\"token\":\""][round % 3]
            guard let start = text.range(of: field)?.upperBound, let end = text[start...].firstIndex(of: "\"") else { return request }
            let value = String(text[start..<end])
            let changed = round % 7 == 0 ? "" : flip(value, &generator)
            request.body = Array((text[..<start] + changed + text[end...]).utf8)
        case (.headerCredentials, _):
            switch round % 4 {
            case 0: request.headers["authorization"] = nil
            case 1:
                request.headers["authorization"] =
                    "Basic " + Data("postwire:\(flip("fixture-password", &generator))".utf8).base64EncodedString()
            case 2: request.headers["authorization"] = "Bearer " + flip("fixture-password", &generator)
            default:
                let header = request.headers["authorization"] ?? ""
                request.headers["authorization"] = "Basic " + flip(String(header.dropFirst("Basic ".count)), &generator)
            }
        case (.apiKey, _):
            // The key's header removed, emptied, one character changed, or moved to Authorization;
            // and Basic credentials that are wrong, beside no key.
            let key = request.headers["x-api-key"] ?? ""
            switch round % 5 {
            case 0: request.headers["x-api-key"] = nil
            case 1: request.headers["x-api-key"] = ""
            case 2: request.headers["x-api-key"] = flip(key, &generator)
            case 3:
                request.headers["x-api-key"] = nil
                request.headers["authorization"] = "Basic " + Data(key.utf8).base64EncodedString()
            default:
                request.headers["x-api-key"] = nil
                request.headers["authorization"] =
                    "Basic " + Data("postwire:\(flip("fixture-password", &generator))".utf8).base64EncodedString()
            }
        case (.bodySignature, 0), (.sns, 0):
            // A changed body under a body signature.
            guard !request.body.isEmpty else { return request }
            let i = Int.random(in: 0..<request.body.count, using: &generator)
            // (The high bit: a change of case in a form's %XX escape would decode to the same signed text.)
            request.body[i] ^= 0x80
        case (.bodySignature, 1):
            if let name = credentialHeaders.randomElement(using: &generator) { request.headers[name] = nil }
        case (.bodySignature, 2):
            if let name = credentialHeaders.filter({ $0.contains("signature") }).first {
                request.headers[name] = flip(request.headers[name] ?? "", &generator)
            }
        case (.bodySignature, 3):
            // A signed timestamp changed (SendGrid, Svix), or the body swapped for another signed one's.
            if let name = credentialHeaders.first(where: { $0.contains("timestamp") }) {
                request.headers[name] = String((Int(request.headers[name] ?? "") ?? 0) + Int.random(in: 1...100_000, using: &generator))
            } else {
                request.body = Array(#"[{"event":"delivered","injected":true}]"#.utf8)
            }
        case (.bodySignature, _):
            if let name = credentialHeaders.first(where: { $0.contains("signature") }) {
                request.headers[name] = Data((request.headers[name] ?? "").utf8).base64EncodedString()  // encoded again
            }
        case (.sns, _):
            // SNS signs the canonical fields: change one (the topic, the message, the id, the time).
            let text = String(decoding: request.body, as: UTF8.self)
            let field = ["\"Message\" : \"", "\"MessageId\" : \"", "\"Timestamp\" : \"", "\"Signature\" : \""][round % 4]
            if let start = text.range(of: field)?.upperBound {
                let index = text.utf8.distance(from: text.startIndex, to: start)
                var bytes = request.body
                if index < bytes.count { bytes[index] = bytes[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A") }
                request.body = bytes
            }
        }
        return request
    }

    /// A provider added without a scheme here would go unattacked.
    @Test func everyProviderHasAScheme() {
        #expect(Set(Self.schemes.map(\.0)) == Set(ProviderRegistry.supported.map(\.rawValue)))
    }

    @Test func noMutationOfAGenuineRequestIsAcceptedOrStored() async throws {
        var configuration = TestEnvironment.configuration(database: "unused")
        configuration.ingress.quarantineEntriesPerHour = 1_000_000
        let redis = TestEnvironment.redis()
        // SES verified for real: the signed fixture, its certificate pinned, no replay window.
        let registry = try Signers.registry()
        let counts = try await Harness.withIngress(configuration, registry: registry, confirmSubscription: { _ in }) { url in
            var generator = SplitMix64(seed: 0x5345_4355_5249_5459)
            var counts: [String: Int] = [:]
            for (provider, scheme) in Self.schemes {
                let genuine =
                    provider == "ses"
                    ? Signers.Request(
                        provider: "ses", headers: ["content-type": "text/plain"],
                        body: try AllProvidersIngressTests.read("ses/delivery.json"))
                    : Signers.sign(provider, try Self.payload(provider))
                let path = url + (provider == "ses" ? "/webhooks/ses/default" : Signers.path(provider))
                var refused = 0
                for round in 0..<1000 {
                    let mutated = Self.mutate(genuine, scheme: scheme, round: round, &generator)
                    if mutated.body == genuine.body && mutated.headers == genuine.headers { continue }
                    let reply = try await HTTP.request(path, headers: mutated.headers, body: mutated.body)
                    #expect(!(200..<300).contains(reply.status), "\(provider) round \(round) accepted: \(reply.body.prefix(200))")
                    if !(200..<300).contains(reply.status) { refused += 1 }
                }
                // The genuine request is accepted once; sent again it is a replay where the scheme has a nonce.
                let first = try await HTTP.request(path, headers: genuine.headers, body: genuine.body)
                #expect(first.status == 200, "\(provider) genuine: \(first.status) \(first.body)")
                counts[provider] = refused
            }
            return counts
        }
        let appended = try await redis.xlen(configuration.redis.stream)
        let genuineEvents = try await Self.genuineEventCount()
        #expect(appended == genuineEvents, "only the genuine requests' events reached the stream: \(appended) vs \(genuineEvents)")
        #expect(try await redis.xlen(configuration.redis.quarantineStream) == 0)
        for (provider, refused) in counts { #expect(refused >= 900, "\(provider): \(refused) mutations sent") }
        print("security suite: refused mutations per provider \(counts.sorted { $0.key < $1.key }); \(appended) genuine events stored")
        await redis.close()
    }

    /// What the genuine requests alone add to a stream.
    static func genuineEventCount() async throws -> Int {
        var total = 0
        let open = SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true)
        for (provider, _) in schemes {
            let request =
                provider == "ses"
                ? Signers.Request(
                    provider: "ses", headers: ["content-type": "text/plain"], body: try AllProvidersIngressTests.read("ses/delivery.json"))
                : Signers.sign(provider, try payload(provider))
            let implementation = try #require(Provider(rawValue: provider).flatMap { ProviderRegistry.provider(for: $0) })
            total += try await implementation.receive(
                WebhookRequest(headers: request.headers, body: request.body, receivedAt: Date()), source: "default", credentials: open,
                now: Date()
            ).events.count
        }
        return total
    }
}

extension Array where Element == UInt8 {
    /// `[` + self + `]`.
    var wrapped: [UInt8] { [UInt8(ascii: "[")] + self + [UInt8(ascii: "]")] }
}
