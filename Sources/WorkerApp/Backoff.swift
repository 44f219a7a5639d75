/// Exponential backoff with full jitter, capped: the wait after the n-th consecutive failure is
/// uniform in [0, min(cap, base · 2ⁿ)], so many workers retrying a recovering database spread out.
struct Backoff {
    let base: Duration
    let cap: Duration
    private(set) var failures = 0

    init(baseMilliseconds: Int, capMilliseconds: Int) {
        base = .milliseconds(max(1, baseMilliseconds))
        cap = .milliseconds(max(baseMilliseconds, capMilliseconds))
    }

    /// Records a failure and returns how long to wait before the next attempt.
    mutating func next() -> Duration {
        let ceiling = min(cap, base * (1 << min(failures, 20)))
        failures += 1
        let millis = Int(ceiling.components.seconds * 1000 + ceiling.components.attoseconds / 1_000_000_000_000_000)
        return .milliseconds(Int.random(in: (millis / 2)...max(millis / 2, millis)))
    }

    mutating func reset() { failures = 0 }
}
