import Foundation
import NIOConcurrencyHelpers
import PostwireConfig
import ProviderSamples
import Providers
import RedisStreams
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Issue 6: a source's rate limit is one token bucket in Redis, so two ingress processes together
/// admit what one would, and the rest get 429 with Retry-After.
@Suite(.serialized) struct RateLimitTests {
    @Test func limitHoldsAcrossTwoIngressProcessesSharingRedis() async throws {
        let rate = 20.0
        let burst = 20
        var configuration = TestEnvironment.configuration(database: "unused")
        configuration.sources = [
            SourceSettings(provider: "mailgun", name: "default", rateLimit: RateLimitSettings(requestsPerSecond: rate, burst: burst))
        ]
        let environment = TestEnvironment.childEnvironment(configuration, ["POSTWIRE_SECRET_MAILGUN_DEFAULT": PipelineTests.mailgunKey])
        let first = TestEnvironment.freePort()
        var second = TestEnvironment.freePort()
        while second == first { second = TestEnvironment.freePort() }
        let ports = [first, second]
        let ingresses = try ports.map { port in
            var own = environment
            own["POSTWIRE_INGRESS_PORT"] = "\(port)"
            return try ChildProcess.spawn(
                TestEnvironment.binDirectory.appendingPathComponent("postwire-ingress").path, [], environment: own)
        }
        defer { ingresses.forEach { $0.signal(SIGKILL) } }
        for port in ports {
            try await TestEnvironment.eventually("ingress on \(port) answers") {
                (try? await HTTP.request("http://127.0.0.1:\(port)/healthz", method: "GET").status) == 200
            }
        }

        // Eight clients, alternating between the two ingresses, as fast as they can for 3 s.
        let statuses = NIOLockedValueBox<[Int: [Int: Int]]>([:])  // port → status → count
        let retryAfterMissing = NIOLockedValueBox(0)
        let answeredAt = NIOLockedValueBox<[ContinuousClock.Instant]>([])
        let run = TestEnvironment.unique("rl")
        let start = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<8 {
                group.addTask {
                    var n = 0
                    while ContinuousClock.now - start < .seconds(3) {
                        let port = ports[(client + n) % 2]
                        let sample = SampleEvent(
                            espEvent: "delivered", id: "\(run)-\(client)-\(n)", recipient: "r@example.com", occurredAt: Date())
                        let webhook = SampleWebhooks.mailgun(sample, signingKey: PipelineTests.mailgunKey, signedAt: Date())
                        let reply = try await HTTP.request(
                            "http://127.0.0.1:\(port)/webhooks/mailgun", headers: webhook.headers, body: webhook.body)
                        statuses.withLockedValue { $0[port, default: [:]][reply.status, default: 0] += 1 }
                        answeredAt.withLockedValue { $0.append(ContinuousClock.now) }
                        if reply.status == 429, Int(reply.headers["retry-after"] ?? "") ?? 0 < 1 {
                            retryAfterMissing.withLockedValue { $0 += 1 }
                        }
                        n += 1
                    }
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let byPort = statuses.withLockedValue { $0 }
        let accepted = byPort.values.map { $0[200] ?? 0 }.reduce(0, +)
        let limited = byPort.values.map { $0[429] ?? 0 }.reduce(0, +)
        let ceiling = Double(burst) + rate * seconds
        #expect(Set(byPort.values.flatMap(\.keys)).isSubset(of: [200, 429]), "statuses: \(byPort)")
        #expect(Double(accepted) <= ceiling + 1, "accepted \(accepted) in \(seconds) s; one shared bucket allows \(ceiling)")
        // The bucket refills only up to its burst: while no request arrives (the machine busy with
        // the rest of the suite), the tokens beyond it are lost, not refused. So the lower bound
        // leaves out the longest pause between answers.
        let times = answeredAt.withLockedValue { $0 }.sorted()
        let pause = zip(times.dropFirst(), times).map { $0 - $1 }.max() ?? .zero
        let pauseSeconds = Double(pause.components.seconds) + Double(pause.components.attoseconds) / 1e18
        let floor = rate * (seconds - pauseSeconds) - 1
        #expect(Double(accepted) >= floor, "the limit must not refuse more than it should: \(accepted), longest pause \(pauseSeconds) s")
        if Double(accepted + limited) >= 2 * ceiling {
            #expect(byPort.values.allSatisfy { ($0[200] ?? 0) > 0 && ($0[429] ?? 0) > 0 }, "both ingresses admitted and refused: \(byPort)")
        }
        #expect(retryAfterMissing.withLockedValue { $0 } == 0, "every 429 carries Retry-After")
        let redis = TestEnvironment.redis()
        #expect(try await redis.xlen(configuration.redis.stream) == accepted, "only admitted requests were appended")
        await redis.close()
        print(
            "rate limit 20/s, burst 20, two ingress processes, 8 clients for \(String(format: "%.2f", seconds)) s: \(accepted) accepted (shared bucket allows at most \(Int(ceiling))), \(limited) got 429; per ingress \(byPort.sorted { $0.key < $1.key }.map { $0.value })"
        )
    }
}
