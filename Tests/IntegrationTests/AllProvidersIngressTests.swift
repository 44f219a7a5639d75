import EmailEvents
import Foundation
import IngressApp
import NIOConcurrencyHelpers
import PostwireConfig
import Providers
import RedisStreams
import Testing

/// Every provider's documented fixtures through a running ingress, correctly authenticated: each
/// request is accepted with its number of events and the stream holds exactly the expected events.
/// The same requests without their credentials, or with the wrong content type, leave nothing.
@Suite struct AllProvidersIngressTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ProvidersTests/Fixtures")
    static let topic = "arn:aws:sns:us-east-1:123456789012:postwire-ses-events"
    static let basic = "postwire:fixture-password"

    struct Case {
        var provider: String
        var file: String
        var headers: [String: String]
        var body: [UInt8]
        /// The expected event types, in order.
        var types: [String]
        /// Headers that carry the credentials, removed for the unauthenticated variant.
        var credentialHeaders: [String]
    }

    static func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: fixtures.appendingPathComponent(path))) }
    static func json(_ path: String) throws -> Any { try JSONSerialization.jsonObject(with: Data(read(path))) }

    /// Types per fixture file from the folder's expected.json (an object or an array of them).
    static func expectedTypes(_ folder: String) throws -> [String: [String]] {
        let table = try #require(try json("\(folder)/expected.json") as? [String: Any])
        var result: [String: [String]] = [:]
        for (file, value) in table where !file.hasPrefix("_") {
            let list = (value as? [[String: Any]]) ?? [(value as? [String: Any]) ?? [:]]
            result[file] = list.compactMap { $0["type"] as? String }
        }
        return result
    }

    static func cases() throws -> [Case] {
        var cases: [Case] = []
        let basicHeader = "Basic " + Data(basic.utf8).base64EncodedString()
        for folder in ["postmark", "sparkpost", "brevo", "mailjet"] {
            for (file, types) in try expectedTypes(folder) {
                cases.append(
                    Case(
                        provider: folder, file: file, headers: ["content-type": "application/json", "authorization": basicHeader],
                        body: try read("\(folder)/\(file)"), types: types, credentialHeaders: ["authorization"]))
            }
        }
        let mailersend = try #require(try json("mailersend/signatures.json") as? [String: String])
        for (file, types) in try expectedTypes("mailersend") {
            cases.append(
                Case(
                    provider: "mailersend", file: file, headers: ["content-type": "application/json", "signature": mailersend[file] ?? ""],
                    body: try read("mailersend/\(file)"), types: types, credentialHeaders: ["signature"]))
        }
        let resend = try #require(try json("resend/headers.json") as? [String: [String: String]])
        for (file, types) in try expectedTypes("resend") {
            cases.append(
                Case(
                    provider: "resend", file: file,
                    headers: (resend[file] ?? [:]).merging(["content-type": "application/json"]) { a, _ in a },
                    body: try read("resend/\(file)"), types: types, credentialHeaders: ["svix-signature"]))
        }
        let mandrill = try #require(try json("mandrill/batch.signature.json") as? [String: String])
        cases.append(
            Case(
                provider: "mandrill", file: "batch.form",
                headers: ["content-type": "application/x-www-form-urlencoded", "x-mandrill-signature": mandrill["signature"] ?? ""],
                body: try read("mandrill/batch.form"), types: try expectedTypes("mandrill")["batch.form"] ?? [],
                credentialHeaders: ["x-mandrill-signature"]))
        let ses = try #require(try json("ses/headers.json") as? [String: [String: String]])
        for (file, types) in try expectedTypes("ses") {
            // SNS's signature is in the body: the unauthenticated variant is a tampered body (see below).
            cases.append(
                Case(
                    provider: "ses", file: file,
                    headers: (ses[file] ?? [:]).merging(["content-type": "text/plain; charset=UTF-8"]) { a, _ in a },
                    body: try read("ses/\(file)"), types: types, credentialHeaders: []))
        }
        let eventBridge = try #require(try json("ses-eventbridge/headers.json") as? [String: String])
        for (file, types) in try expectedTypes("ses-eventbridge") {
            cases.append(
                Case(
                    provider: "ses-eventbridge", file: file, headers: eventBridge, body: try read("ses-eventbridge/\(file)"), types: types,
                    credentialHeaders: ["x-api-key"]))
        }
        let sendgrid = try #require(try json("sendgrid/batch.signature.json") as? [String: String])
        cases.append(
            Case(
                provider: "sendgrid", file: "batch.json",
                headers: [
                    "content-type": "application/json", "x-twilio-email-event-webhook-signature": sendgrid["signature"] ?? "",
                    "x-twilio-email-event-webhook-timestamp": sendgrid["timestamp"] ?? "",
                ],
                body: try read("sendgrid/batch.json"),
                types: [
                    "queued", "rejected", "delivered", "deferred", "bounced", "bounced", "opened", "clicked", "complained", "unsubscribed",
                    "unsubscribed", "subscribed",
                ],
                credentialHeaders: ["x-twilio-email-event-webhook-signature"]))
        let mailgunTypes = [
            "accepted": "queued", "delivered": "delivered", "rejected": "rejected", "failed-temporary": "deferred",
            "failed-permanent": "bounced",
            "opened": "opened", "clicked": "clicked", "unsubscribed": "unsubscribed", "complained": "complained",
        ]
        for (name, type) in mailgunTypes {
            cases.append(
                Case(
                    provider: "mailgun", file: "\(name).json", headers: ["content-type": "application/json"],
                    body: try read("mailgun/\(name).json"), types: [type], credentialHeaders: []))
        }
        // One spelling per header name, so a test can replace one.
        return cases.map { item in
            var item = item
            item.headers = Dictionary(item.headers.map { ($0.key.lowercased(), $0.value) }) { first, _ in first }
            return item
        }
    }

    static func environment() throws -> [String: String] {
        let sendgridKey = try #require((try json("vectors/sendgrid-ecdsa.json") as? [String: Any])?["publicKey"] as? String)
        return [
            "POSTWIRE_SECRET_POSTMARK_DEFAULT": basic, "POSTWIRE_SECRET_SPARKPOST_DEFAULT": basic,
            "POSTWIRE_SECRET_BREVO_DEFAULT": basic, "POSTWIRE_SECRET_MAILJET_DEFAULT": basic,
            "POSTWIRE_SECRET_MAILERSEND_DEFAULT": "postwire-mailersend-fixture-secret",
            "POSTWIRE_SECRET_RESEND_DEFAULT": "whsec_cG9zdHdpcmUtcmVzZW5kLWZpeHR1cmUtc2VjcmV0",
            "POSTWIRE_SECRET_MANDRILL_DEFAULT": "postwire-mandrill-fixture-key",
            "POSTWIRE_SECRET_MAILGUN_DEFAULT": "postwire-fixture-signing-key",
            "POSTWIRE_SECRET_SENDGRID_DEFAULT": sendgridKey,
            // The API-key connection's key, and Basic credentials for Signers.
            "POSTWIRE_SECRET_SES_EVENTBRIDGE_DEFAULT": "\(try eventBridgeKey()),\(basic)",
        ]
    }

    static func eventBridgeKey() throws -> String {
        try #require((try json("ses-eventbridge/headers.json") as? [String: String])?["x-api-key"])
    }

    /// Every provider configured; the fixtures were signed in 2023, so no replay window.
    static func sources(autoConfirm: Bool) throws -> [SourceSettings] {
        let mandrillURL = (try json("mandrill/batch.signature.json") as? [String: String])?["url"]
        return [
            "postmark", "sparkpost", "brevo", "mailjet", "mailersend", "resend", "mandrill", "mailgun", "sendgrid", "ses-eventbridge",
        ].map {
            SourceSettings(provider: $0, name: "default", replayWindowSeconds: 0, url: $0 == "mandrill" ? mandrillURL : nil)
        } + [
            // The SES fixtures were published in 2023: their SNS Timestamp is far outside the default window.
            SourceSettings(
                provider: "ses", name: "default", replayWindowSeconds: 0, topicArns: [topic], autoConfirmSubscriptions: autoConfirm)
        ]
    }

    /// The SNS certificate pinned under the name its URL asks for.
    static func pinnedCertificates() throws -> PinnedSNSCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("sns-certs"))
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Data(read("sns/cert.pem")).write(to: directory.appendingPathComponent("SimpleNotificationService-0000000000000000000000.pem"))
        return PinnedSNSCertificates(directory: directory.path)
    }

    @Test func everyFixtureLandsInTheStreamAndBadVariantsLeaveNothing() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let registry = try SourceRegistry(
            sources: try Self.sources(autoConfirm: false), secrets: Secrets(environment: try Self.environment()),
            certificates: try Self.pinnedCertificates()
        )
        let cases = try Self.cases()
        let redis = TestEnvironment.redis()
        try await Harness.withIngress(configuration, registry: registry, confirmSubscription: { _ in Issue.record("must not confirm") }) {
            url in
            // Refused variants first: nothing may reach the stream.
            for item in cases {
                let path = url + "/webhooks/\(item.provider)"
                if !item.credentialHeaders.isEmpty {
                    var headers = item.headers
                    for name in item.credentialHeaders { headers[name] = nil }
                    let reply = try await HTTP.request(path, headers: headers, body: item.body)
                    #expect(
                        [401, 403, 406].contains(reply.status),
                        "\(item.provider)/\(item.file) unauthenticated: \(reply.status) \(reply.body)")
                }
                if item.provider == "ses" || item.provider == "mailgun" {
                    // Signed inside the body: SES signs the Message, Mailgun the timestamp and token.
                    var object = try #require(try JSONSerialization.jsonObject(with: Data(item.body)) as? [String: Any])
                    if item.provider == "ses" {
                        object["Message"] = (object["Message"] as? String ?? "") + " "
                    } else {
                        var signature = object["signature"] as? [String: Any] ?? [:]
                        signature["timestamp"] = "1800000000"
                        object["signature"] = signature
                    }
                    let tampered = Array(try JSONSerialization.data(withJSONObject: object))
                    let reply = try await HTTP.request(path, headers: item.headers, body: tampered)
                    #expect([403, 406].contains(reply.status), "\(item.provider)/\(item.file) tampered: \(reply.status) \(reply.body)")
                }
                // A wrong declared type without the credentials is refused for the credentials: the
                // type itself never refuses (415 made ESPs retry authentic posts for hours).
                var wrongType = item.headers
                wrongType["content-type"] = "text/html"
                for name in item.credentialHeaders { wrongType[name] = nil }
                if !item.credentialHeaders.isEmpty {
                    #expect(
                        [401, 403, 406].contains(try await HTTP.request(path, headers: wrongType, body: item.body).status),
                        "\(item.provider)/\(item.file) as text/html, unauthenticated")
                }
            }
            #expect(try await redis.xlen(configuration.redis.stream) == 0)
            #expect(try await redis.xlen(configuration.redis.quarantineStream) == 0)

            var expected: [String: [String]] = [:]
            for item in cases {
                let reply = try await HTTP.request(url + "/webhooks/\(item.provider)/default", headers: item.headers, body: item.body)
                #expect(reply.status == 200, "\(item.provider)/\(item.file): \(reply.status) \(reply.body)")
                #expect(reply.body == #"{"accepted":\#(item.types.count)}"#, "\(item.provider)/\(item.file): \(reply.body)")
                expected[item.provider, default: []] += item.types
            }
            let entries = try await redis.xrange(configuration.redis.stream, count: 10_000)
            var actual: [String: [String]] = [:]
            for entry in entries {
                let event = try StreamEntryCodec.decode(entry.fields)
                actual[event.provider.rawValue, default: []].append(event.type.rawValue)
            }
            for provider in Set(actual.keys).union(expected.keys) {
                #expect(actual[provider]?.sorted() == expected[provider]?.sorted(), "\(provider)")
            }
            // Every provider but the generic Standard Webhooks one (its fixtures are Resend's).
            #expect(Set(actual.keys) == Set(ProviderRegistry.supported.map(\.rawValue)).subtracting(["standardwebhooks"]))
        }
        await redis.close()
    }

    @Test func snsSubscriptionIsConfirmedOnlyForAllowedTopics() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let confirmed = NIOLockedValueBox<[String]>([])
        let registry = try SourceRegistry(
            sources: try Self.sources(autoConfirm: true), secrets: Secrets(environment: try Self.environment()),
            certificates: try Self.pinnedCertificates())
        let headers = try #require(try Self.json("sns/headers.json") as? [String: [String: String]])
        try await Harness.withIngress(
            configuration, registry: registry, confirmSubscription: { url in confirmed.withLockedValue { $0.append(url) } }
        ) { url in
            let file = "subscription-confirmation.json"
            let reply = try await HTTP.request(
                url + "/webhooks/ses", headers: (headers[file] ?? [:]).merging(["content-type": "text/plain"]) { a, _ in a },
                body: try Self.read("sns/\(file)"))
            #expect(reply.status == 200)
            #expect(reply.body.contains("confirmed"))
        }
        #expect(confirmed.withLockedValue { $0 }.count == 1)
        #expect(
            confirmed.withLockedValue { $0 }.first?.hasPrefix("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription") == true)
    }
}
