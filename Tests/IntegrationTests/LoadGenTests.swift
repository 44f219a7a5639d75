import Foundation
import Histogram
import LoadGen
import PostwireConfig
import RedisStreams
import Testing

/// `postwire loadgen`'s engine against a real ingress: every request is answered as a correct
/// ingress must (forged ones refused, the rest accepted), and what it counts as accepted is
/// exactly what reached the stream.
@Suite struct LoadGenTests {
    @Test func loadAgainstARealIngressIsCountedExactly() async throws {
        let configuration = TestEnvironment.configuration(database: "unused")
        let redis = TestEnvironment.redis()
        let plan = TrafficPlan(
            mix: ["mailgun": 2, "sendgrid": 1], batchSize: 10, duplicateShare: 0.2, badShare: 0.1, mailgunKey: PipelineTests.mailgunKey,
            sendgridKey: PipelineTests.sendgridKey)
        let report = try await Harness.withIngress(configuration, environment: PipelineTests.environment) { url in
            let port = try #require(URL(string: url)?.port)
            return try await LoadRun.run(host: "127.0.0.1", port: port, plan: plan, shape: LoadShape(concurrency: 8, count: 300))
        }
        #expect(report.requests == 300)
        #expect(report.latency.totalCount == 300)
        #expect(report.unexpected == 0)
        #expect(report.cpuSeconds > 0 && report.cpuSeconds < 60, "the generator's own CPU time while sending: \(report.cpuSeconds) s")
        #expect(Set(report.statuses.keys).isSubset(of: [200, 403, 406]), "\(report.statuses)")
        #expect((report.statuses[403] ?? 0) + (report.statuses[406] ?? 0) > 0, "forged requests were sent and refused")
        #expect(try await redis.xlen(configuration.redis.stream) == report.eventsAccepted)
        print(
            "loadgen: 300 requests (\(report.statuses)), \(report.eventsAccepted) events accepted = XLEN, p50 \(report.latency.valueAtPercentile(50)) µs, p99 \(report.latency.valueAtPercentile(99)) µs"
        )
        await redis.close()
    }
}
