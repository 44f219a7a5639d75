import Foundation
import PostwireConfig
import RedisStreams
import Testing

@testable import IngressApp
@testable import Providers

/// Mailgun signs only `timestamp` + `token`: a spent signature block stores nothing, whatever body
/// comes with it, its guard outlives the window, and the quarantine has a budget per source.
@Suite struct ReplayGuardTests {
    static let crashing = #"{"event":"delivered","id":"x","timestamp":1e13,"recipient":"a@example.com"}"#

    @Test func aSpentMailgunSignatureStoresNothingWhateverBodyItCarries() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let redis = TestEnvironment.redis()
        try await Harness.withIngress(configuration, registry: try Signers.registry(), confirmSubscription: { _ in }) { url in
            // A genuine request whose event-data cannot be read: 422, kept once, its token consumed.
            let genuine = Signers.sign("mailgun", Array(#"[1,2]"#.utf8))
            let first = try await HTTP.request(url + "/webhooks/mailgun", headers: genuine.headers, body: genuine.body)
            #expect(first.status == 422, "\(first.body)")
            // Its signature block again, with other bodies: hostile values, a megabyte, a good event.
            let signature = try #require(JSONScanner.valueRange(ofTopLevelKey: "signature", in: genuine.body))
            let block = String(decoding: genuine.body[signature], as: UTF8.self)
            let bodies = [
                Self.crashing, #"{"event":"delivered","id":"y","timestamp":1700000000,"message":{"headers":{"message-id":"m"}}}"#,
                #"{"event":"opened","junk":"\#(String(repeating: "x", count: 1_000_000))"}"#, "[1,2]",
            ]
            for body in bodies {
                let replay = Array(#"{"signature":\#(block),"event-data":\#(body)}"#.utf8)
                let reply = try await HTTP.request(url + "/webhooks/mailgun", headers: genuine.headers, body: replay)
                #expect(reply.status == 406, "replayed signature: \(reply.status) \(reply.body.prefix(200))")
            }
            #expect(try await redis.xlen(configuration.redis.quarantineStream) == 1)
            #expect(try await redis.xlen(configuration.redis.stream) == 0)
            // The guard outlives the window in which the request is accepted (300 s for Mailgun).
            let guards = try await redis.send(RedisCommand("KEYS", [RESPArgument(configuration.redis.replayGuardPrefix + "*")])).array ?? []
            let key = try #require(guards.first?.string)
            let ttl = try await redis.send(RedisCommand("TTL", [RESPArgument(key)])).integer ?? -1
            #expect(guards.count == 1 && ttl > 300 && ttl <= 600, "guard TTL \(ttl) s")
            #expect(WebhookRoutes.guardTTL(window: 3900) > 3900, "SNS's window")

            // The crashing value with a fresh signature: accepted, the time estimated (the ingress lives on).
            let fresh = Signers.sign("mailgun", Array(Self.crashing.utf8))
            #expect(try await HTTP.request(url + "/webhooks/mailgun", headers: fresh.headers, body: fresh.body).status == 200)
            let entry = try #require(try await redis.xrange(configuration.redis.stream, count: 1).first)
            #expect(entry.string("e")?.contains(#""occurredAtEstimated":true"#) == true)
        }
        await redis.close()
    }

    @Test func theQuarantineKeepsNoMoreThanTheSourcesBudget() async throws {
        var configuration = TestEnvironment.configuration(database: "unused")
        configuration.ingress.quarantineEntriesPerHour = 3
        configuration.sources = [SourceSettings(provider: "mailgun", name: "default")]
        let redis = TestEnvironment.redis()
        let environment = ["POSTWIRE_SECRET_MAILGUN_DEFAULT": Signers.mailgunKey]
        try await Harness.withIngress(configuration, environment: environment) { url in
            for i in 0..<5 {
                let request = Signers.sign("mailgun", Array(#"["unreadable \#(i)"]"#.utf8))
                let reply = try await HTTP.request(url + "/webhooks/mailgun", headers: request.headers, body: request.body)
                #expect(reply.status == 422)
                #expect(reply.body.contains(i < 3 ? "kept in quarantine" : "over its quarantine budget"), "\(i): \(reply.body)")
            }
        }
        #expect(try await redis.xlen(configuration.redis.quarantineStream) == 3)
        await redis.close()
    }
}
