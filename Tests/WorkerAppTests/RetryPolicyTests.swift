import PostwireConfig
import Testing

@testable import WorkerApp

@Suite struct RetryPolicyTests {
    @Test func builtFromTheWorkerSettings() {
        var settings = WorkerSettings()
        settings.backoffMilliseconds = 200
        settings.maxBackoffMilliseconds = 3000
        settings.claimMinIdleMilliseconds = 15_000
        settings.maxDeliveries = 4
        let policy = RetryPolicy(settings)
        #expect(policy.initialBackoff == .milliseconds(200))
        #expect(policy.maxBackoff == .seconds(3))
        #expect(policy.claimMinIdleMilliseconds == 15_000)
        #expect(!policy.isExhausted(deliveries: 4))
        #expect(policy.isExhausted(deliveries: 5))
    }

    @Test func backoffDoublesUpToTheCapWithJitterInTheUpperHalf() {
        var backoff = RetryPolicy(
            initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(1000), claimMinIdle: .seconds(1), maxDeliveries: 3
        )
        .backoff()
        #expect((0..<6).map { backoff.ceiling(after: $0) } == [100, 200, 400, 800, 1000, 1000].map { .milliseconds($0) })
        for failure in 0..<12 {
            let ceiling = backoff.ceiling(after: failure)
            let wait = backoff.next()
            #expect(wait >= ceiling / 2 && wait <= ceiling, "wait \(wait) after \(failure) failures, ceiling \(ceiling)")
        }
        backoff.reset()
        #expect(backoff.next() <= .milliseconds(100))
    }

    @Test func nonsenseSettingsStillGiveAUsablePolicy() {
        var backoff = RetryPolicy(initialBackoff: .zero, maxBackoff: .zero, claimMinIdle: .zero, maxDeliveries: 0).backoff()
        #expect(backoff.next() <= .milliseconds(1))
        #expect(RetryPolicy(initialBackoff: .zero, maxBackoff: .zero, claimMinIdle: .zero, maxDeliveries: 0).isExhausted(deliveries: 2))
    }
}
