import EmailEvents
import EventStore
import Foundation
import IngressApp
import OperatorTools
import PostwireConfig
import RedisStreams
import Testing
import WorkerApp

@testable import Providers

/// One bad element never costs its batch-mates: an authentic batch mixing good elements with an
/// empty object, a wrong-typed element and an element of an unknown shape is answered 200 with
/// both counts, the good events are counted once through the real worker, each bad element sits
/// in quarantine alone, and replaying them after a fix counts them once.
@Suite(.serialized) struct PartialBatchTests {
    /// Per batched provider: its good elements (from the fixtures), as JSON array elements.
    static func goodElements(_ provider: String) throws -> [String] {
        func elements(_ path: String) throws -> [String] {
            let bytes = try AllProvidersIngressTests.read(path)
            return try JSONScanner.elements(of: bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
        }
        switch provider {
        case "sendgrid": return try elements("sendgrid/batch.json")
        case "sparkpost": return try elements("sparkpost/batch.json")
        case "brevo": return try elements("brevo/batch.json")
        case "mailjet": return try elements("mailjet/grouped.json")
        case "postmark": return [String(decoding: try AllProvidersIngressTests.read("postmark/delivery.json"), as: UTF8.self)]
        case "mandrill":
            let form = String(decoding: try AllProvidersIngressTests.read("mandrill/batch.form"), as: UTF8.self)
            let json =
                String(form.dropFirst("mandrill_events=".count)).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            let bytes = Array(json.utf8)
            return try JSONScanner.elements(of: bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
        default: return []
        }
    }

    /// An empty object, a wrong type, and an object of a shape no normalizer knows.
    static let bad = ["{}", "42", #"{"unexpected":{"shape":[1,2,3]}}"#]

    @Test(arguments: ["sendgrid", "mandrill", "sparkpost", "brevo", "mailjet", "postmark"])
    func badElementsAreQuarantinedAloneAndGoodOnesCountedOnce(provider: String) async throws {
        let good = try Self.goodElements(provider)
        let goodCount = try await Self.eventCount(provider, good)
        try #require(goodCount > 0)
        // The bad ones among the good: first, in the middle, last.
        let mixed = {
            var mixed = good
            mixed.insert(Self.bad[0], at: 0)
            mixed.insert(Self.bad[1], at: mixed.count / 2)
            mixed.append(Self.bad[2])
            return mixed
        }()
        let indexes = Self.bad.map { bad in mixed.firstIndex(of: bad)! }

        try await TestEnvironment.withDatabase { database, store in
            let configuration = TestEnvironment.configuration(database: database)
            let redis = TestEnvironment.redis()
            let request = Signers.sign(provider, Array(("[" + mixed.joined(separator: ",") + "]").utf8))
            try await Harness.withIngress(configuration, registry: try Signers.registry(), confirmSubscription: { _ in }) { url in
                let reply = try await HTTP.request(url + Signers.path(provider), headers: request.headers, body: request.body)
                #expect(reply.status == 200, "\(provider): \(reply.status) \(reply.body)")
                #expect(reply.body == #"{"accepted":\#(goodCount),"quarantined":3}"#, "\(provider): \(reply.body)")
                // Every element bad: 422, each kept.
                let allBad = Signers.sign(provider, Array(("[" + Self.bad.joined(separator: ",") + "]").utf8))
                let refused = try await HTTP.request(url + Signers.path(provider), headers: allBad.headers, body: allBad.body)
                #expect(refused.status == 422, "\(provider): \(refused.status) \(refused.body)")
            }
            let quarantined = try await redis.xrange(configuration.redis.quarantineStream, count: 100)
            #expect(quarantined.count == 6)
            #expect(quarantined.prefix(3).compactMap { $0.string("index").flatMap(Int.init) } == indexes, "\(provider)")
            #expect(quarantined.allSatisfy { $0.string("p") == provider && $0.string("reason")?.isEmpty == false })
            #expect(quarantined.allSatisfy { !($0.string("headers") ?? "").contains("authorization") }, "no credentials kept")

            try await Harness.withWorker(configuration, consumer: "w") { _ in try await Harness.waitUntilDrained(redis, configuration) }
            #expect(try await store.eventCount() == goodCount)

            // The "fix": the unknown-shape element, rewritten as an event of this provider, then
            // replayed from quarantine; replaying again finds nothing more to count.
            let fixedElement = good[good.count - 1]
            let unknown = try #require(quarantined.first { $0.string("index") == String(indexes[2]) })
            var fields = unknown.fields
            fields["body"] = Self.elementBody(provider, fixedElement)
            _ = try await redis.xadd(configuration.redis.quarantineStream, fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
            let replayer = ResilienceTests.replayer(configuration, redis)
            let replayed = try await replayer.replay(from: .quarantine, filter: .init(provider: provider))
            #expect(replayed.moved == 1, "\(provider): \(replayed)")
            try await Harness.withWorker(configuration, consumer: "w") { _ in try await Harness.waitUntilDrained(redis, configuration) }
            #expect(try await store.eventCount() == goodCount, "the fixed element repeats a good one: counted once")
            #expect(try await replayer.replay(from: .quarantine, filter: .init(provider: provider)).moved == 0)
            await redis.close()
        }
    }

    /// A body of `provider` holding only `element`, as the ingress quarantines a bad one.
    static func elementBody(_ provider: String, _ element: String) -> [UInt8] {
        switch provider {
        case "mandrill": FormBody.mandrillEvents(Array("[\(element)]".utf8))
        case "postmark": Array(element.utf8)
        default: Array("[\(element)]".utf8)
        }
    }

    static func eventCount(_ provider: String, _ elements: [String]) async throws -> Int {
        let request = Signers.sign(provider, Array(("[" + elements.joined(separator: ",") + "]").utf8))
        let provider = try #require(Provider(rawValue: provider).flatMap { ProviderRegistry.provider(for: $0) })
        let open = SourceCredentials(secrets: [], replayWindow: 0, allowUnauthenticated: true)
        let received = try await provider.receive(
            WebhookRequest(headers: request.headers, body: request.body, receivedAt: Date()), source: "default", credentials: open,
            now: Date())
        return received.events.count
    }

    /// The posts ESP dashboards send when a webhook is saved or tested, authenticated, through the
    /// ingress: each is answered 200 with no event, and nothing reaches the stream or the quarantine.
    @Test func testPostsAreAnswered200AndStoreNothing() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let redis = TestEnvironment.redis()
        let pings = AllProvidersIngressTests.fixtures.deletingLastPathComponent().appendingPathComponent("Fixtures/pings")
        func read(_ file: String) throws -> [UInt8] { Array(try Data(contentsOf: pings.appendingPathComponent(file))) }
        let requests = [
            Signers.sign("sparkpost", try read("sparkpost.json")), Signers.sign("mandrill", Array("[]".utf8)),
            Signers.sign("postmark", try read("postmark-bounce.json")), Signers.sign("ses", try read("ses-setup-notification.json")),
            Signers.sign("ses", try read("ses-subscription-succeeded.json")),
        ]
        try await Harness.withIngress(configuration, registry: try Signers.registry(), confirmSubscription: { _ in }) { url in
            for request in requests {
                let reply = try await HTTP.request(url + Signers.path(request.provider), headers: request.headers, body: request.body)
                #expect(reply.status == 200 && reply.body == #"{"accepted":0}"#, "\(request.provider): \(reply.status) \(reply.body)")
            }
        }
        #expect(try await redis.xlen(configuration.redis.stream) == 0)
        #expect(try await redis.xlen(configuration.redis.quarantineStream) == 0)
        await redis.close()
    }
}
