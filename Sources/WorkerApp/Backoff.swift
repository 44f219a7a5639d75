/// Exponential backoff with jitter, capped: the wait after the n-th consecutive failure is uniform
/// in [c/2, c] with c = min(cap, base · 2ⁿ), so many workers retrying a recovering database spread
/// out, yet none retries much sooner than the schedule says.
struct Backoff {
    let base: Duration
    let cap: Duration
    private(set) var failures = 0

    init(base: Duration, cap: Duration) {
        self.base = max(.milliseconds(1), base)
        self.cap = max(self.base, cap)
    }

    /// The upper bound of the wait after `failures` consecutive failures.
    func ceiling(after failures: Int) -> Duration {
        min(cap, base * (1 << min(failures, 20)))
    }

    /// Records a failure and returns how long to wait before the next attempt.
    mutating func next() -> Duration {
        let ceiling = ceiling(after: failures)
        failures += 1
        let millis = Int(ceiling.components.seconds * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000)
        return .milliseconds(Int.random(in: (millis / 2)...max(millis / 2, millis)))
    }

    mutating func reset() { failures = 0 }
}
