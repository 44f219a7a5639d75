import EmailEvents
import Foundation
import IngressApp
import PostwireConfig
import RedisStreams
import Testing

@testable import Providers

/// Every provider's fixtures, correctly authenticated, with each number in them (up to eight per
/// fixture, spread over the body) set to 1e13, 1e300, -1e300, 9.3e18 and a 10,000-digit number, one
/// at a time, through a running ingress: every answer is 200 or 422, the ingress lives on (a trap
/// would end this test process), everything quarantined is kept, and every stored event's time
/// is one PostgreSQL and the rollups can hold.
@Suite struct ExtremeValuesTests {
    static let values = ["1e13", "1e300", "-1e300", "9.3e18", String(repeating: "9", count: 10_000)]

    /// (provider, the bytes to mutate, how to turn them back into a body to sign).
    /// A provider added without fixtures here would get no extreme values.
    @Test func everyProviderHasPayloads() throws {
        #expect(Set(try Self.payloads().map(\.provider)) == Set(ProviderRegistry.supported.map(\.rawValue)))
    }

    static func payloads() throws -> [(provider: String, payload: [UInt8])] {
        var result: [(String, [UInt8])] = []
        let root = AllProvidersIngressTests.fixtures
        for folder in [
            "mailgun", "sendgrid", "postmark", "sparkpost", "brevo", "mailjet", "mailersend", "resend", "ses", "ses-eventbridge",
        ] {
            let files = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(folder).path).sorted()
                .filter {
                    $0.hasSuffix(".json") && !["expected.json", "signatures.json", "headers.json"].contains($0) && !$0.contains("signature")
                }
            for file in files {
                let bytes = try AllProvidersIngressTests.read("\(folder)/\(file)")
                switch folder {
                case "mailgun":
                    // The event-data: the signature block is made fresh for each request.
                    let range = try #require(JSONScanner.valueRange(atPath: ["event-data"], in: bytes))
                    result.append((folder, Array(bytes[range])))
                default:
                    result.append((folder, bytes))
                }
                if folder == "resend" { result.append(("standardwebhooks", bytes)) }
            }
        }
        let form = String(decoding: try AllProvidersIngressTests.read("mandrill/batch.form"), as: UTF8.self)
        let events = String(form.dropFirst("mandrill_events=".count)).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
        result.append(("mandrill", Array(events.utf8)))
        return result
    }

    /// Where the numbers are: runs of digits (with sign, fraction, exponent) not inside a word.
    /// For SES only inside the SNS `Message`, whose other fields carry the signature.
    static func numbers(in bytes: [UInt8], provider: String) -> [Range<Int>] {
        let text = String(decoding: bytes, as: UTF8.self)
        let window = provider == "ses" ? JSONScanner.valueRange(atPath: ["Message"], in: bytes) : 0..<bytes.count
        guard let window,
            let pattern = try? NSRegularExpression(pattern: #"(?<![A-Za-z0-9_.\\-])-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?(?![A-Za-z0-9_.])"#)
        else { return [] }
        let matches = pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match -> Range<Int>? in
            guard let range = Range(match.range, in: text) else { return nil }
            let lower = text.utf8.distance(from: text.utf8.startIndex, to: range.lowerBound)
            let upper = text.utf8.distance(from: text.utf8.startIndex, to: range.upperBound)
            return window.contains(lower) && upper <= window.upperBound ? lower..<upper : nil
        }
        guard matches.count > 8 else { return matches }
        return (0..<8).map { matches[$0 * matches.count / 8] }
    }

    @Test func everyNumberAtItsWorstIsAnsweredAndNothingQuarantinedIsLost() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let redis = TestEnvironment.redis()
        let now = Date()
        let (statuses, setAside) = try await Harness.withIngress(
            configuration, registry: try Signers.registry(), confirmSubscription: { _ in }
        ) {
            url in
            var statuses: [Int: Int] = [:]
            var setAside = 0
            for (provider, payload) in try Self.payloads() {
                for range in Self.numbers(in: payload, provider: provider) {
                    for value in Self.values {
                        var mutated = Array(payload[..<range.lowerBound]) + Array(value.utf8) + Array(payload[range.upperBound...])
                        if provider == "ses", let id = JSONScanner.valueRange(atPath: ["MessageId"], in: mutated) {
                            // Each SNS message is accepted once: a fresh MessageId for each.
                            mutated.replaceSubrange(id, with: Array("\"\(UUID().uuidString)\"".utf8))
                        }
                        let request = Signers.sign(provider, mutated)
                        let reply = try await HTTP.request(url + Signers.path(provider), headers: request.headers, body: request.body)
                        statuses[reply.status, default: 0] += 1
                        #expect(
                            [200, 422].contains(reply.status),
                            "\(provider) with \(value.prefix(12)): \(reply.status) \(reply.body.prefix(200))")
                        if reply.status == 422 { setAside += 1 }
                        if reply.status == 200, let k = reply.body.split(separator: ":").last.flatMap({ Int($0.dropLast()) }),
                            reply.body.contains("quarantined")
                        {
                            setAside += k
                        }
                    }
                }
            }
            return (statuses, setAside)
        }
        #expect(statuses.values.reduce(0, +) > 1000, "requests sent: \(statuses)")
        #expect(try await redis.xlen(configuration.redis.quarantineStream) == setAside, "every answer that set something aside kept it")
        var estimated = 0
        let entries = try await redis.xrange(configuration.redis.stream, count: 100_000)
        for entry in entries {
            let event = try StreamEntryCodec.decode(entry.fields)
            let seconds = event.occurredAt.timeIntervalSince1970
            #expect(seconds >= EventTime.earliestSeconds && seconds <= now.timeIntervalSince1970 + 86_400 + 600, "\(event.eventKey)")
            if event.occurredAtEstimated == true { estimated += 1 }
        }
        print(
            "extreme values: \(statuses.values.reduce(0, +)) authenticated requests, statuses \(statuses.sorted { $0.key < $1.key }), "
                + "\(entries.count) events stored (\(estimated) with an estimated time), \(setAside) elements quarantined")
        await redis.close()
    }
}
