import EmailEvents
import Foundation
import Testing

@testable import Providers

/// Opens and clicks written from the ESPs' documented samples (Fixtures/engagement; README.md
/// names each source), normalized by the provider's own normalizer and judged by the default
/// rules: each ESP's machine flag, each kind of known user agent, and a person's for contrast.
@Suite struct EngagementFixtureTests {
    typealias Normalize = (JSONObject, [UInt8]) throws -> EmailEvent?
    static let receivedAt = Date(timeIntervalSince1970: 1_712_000_000)

    static func normalizer(_ name: String) -> Normalize {
        switch name {
        case "sendgrid": { try SendGridNormalizer.normalize($0, raw: $1, source: "default", receivedAt: receivedAt) }
        case "mailgun": { try MailgunNormalizer.normalize($0, raw: $1, source: "default", receivedAt: receivedAt) }
        case "brevo": { try BrevoNormalizer.normalize($0, raw: $1, source: "default", receivedAt: receivedAt) }
        case "mandrill": { try MandrillNormalizer.normalize($0, raw: $1, source: "default", receivedAt: receivedAt) }
        case "sparkpost": { try SparkPostNormalizer.normalize($0, raw: $1, source: "default", receivedAt: receivedAt) }
        case "postmark": { try PostmarkNormalizer.normalize($0, raw: $1, source: "default", receivedAt: receivedAt) }
        default: { try MailjetNormalizer.normalize($0, raw: $1, source: "default", receivedAt: receivedAt) }
        }
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var file: String
        var provider: String
        var type: EventType
        var reason: String
        var testDescription: String { file }
    }

    static let cases: [Case] = [
        Case(file: "engagement/sendgrid-open-machine.json", provider: "sendgrid", type: .opened, reason: "esp:sg_machine_open"),
        Case(file: "engagement/sendgrid-open-person.json", provider: "sendgrid", type: .opened, reason: "no_machine_signal"),
        Case(
            file: "engagement/sendgrid-open-gmail-proxy.json", provider: "sendgrid", type: .opened,
            reason: "user_agent:google_image_proxy"),
        Case(file: "engagement/mailgun-opened-bot-apple.json", provider: "mailgun", type: .opened, reason: "esp:client-info.bot=apple"),
        Case(
            file: "engagement/mailgun-clicked-bot-generic.json", provider: "mailgun", type: .clicked,
            reason: "esp:client-info.bot=generic"),
        Case(file: "engagement/mailgun-opened-person.json", provider: "mailgun", type: .opened, reason: "no_machine_signal"),
        Case(file: "brevo/proxy_open.json", provider: "brevo", type: .opened, reason: "esp:proxy_open"),
        Case(file: "brevo/opened.json", provider: "brevo", type: .opened, reason: "no_machine_signal"),
        Case(
            file: "engagement/mandrill-open-robot.json", provider: "mandrill", type: .opened, reason: "esp:user_agent_parsed.type=robot"),
        Case(file: "engagement/mandrill-open-person.json", provider: "mandrill", type: .opened, reason: "no_machine_signal"),
        Case(
            file: "engagement/sparkpost-open-prefetched.json", provider: "sparkpost", type: .opened,
            reason: "esp:user_agent_parsed.is_prefetched"),
        Case(
            file: "engagement/postmark-open-yahoo-proxy.json", provider: "postmark", type: .opened, reason: "user_agent:yahoo_mail_proxy"),
        Case(file: "engagement/mailjet-click-scanner.json", provider: "mailjet", type: .clicked, reason: "user_agent:http_library"),
    ]

    @Test(arguments: cases) func theDefaultRulesJudgeTheESPsOwnSamples(_ example: Case) throws {
        let bytes = try Fixtures.bytes(example.file)
        let object = try #require(JSONObject.parse(bytes))
        var event = try #require(try Self.normalizer(example.provider)(object, bytes))
        #expect(event.type == example.type)
        EngagementRules().classify(&event)
        #expect(event.engagementReason == example.reason)
        #expect(event.isMachine == (example.reason != "no_machine_signal"))
        // Dropping the client details for privacy keeps the verdict and leaves neither behind.
        var privately = try #require(try Self.normalizer(example.provider)(object, bytes))
        EngagementRules(dropClientDetails: true).classify(&privately)
        #expect(privately.engagementReason == example.reason && privately.userAgent == nil && privately.ip == nil)
    }

    /// A bot field of any size or shape is recorded within bounds or not at all.
    @Test func aHugeOrOddBotFieldStaysBounded() throws {
        for bot in [String(repeating: "x", count: 100_000), "  ", ""] {
            let json = #"{"event":"opened","id":"z","timestamp":1700000062,"recipient":"a@example.com","client-info":{"bot":"#
            let bytes = Array((json + String(data: try JSONEncoder().encode(bot), encoding: .utf8)! + "}}").utf8)
            let event = try #require(
                try MailgunNormalizer.normalize(#require(JSONObject.parse(bytes)), raw: bytes, source: "s", receivedAt: Self.receivedAt))
            #expect((event.machineFlag?.utf8.count ?? 0) <= 80)
            #expect((event.machineFlag == nil) == bot.trimmingCharacters(in: .whitespaces).isEmpty)
        }
    }
}
