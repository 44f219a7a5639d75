import Foundation
import PostwireConfig

/// When a failed delivery is tried again: the waits before the second, third, … attempts, each
/// varied at random by up to `jitter` of itself so that deliveries failed together do not all
/// come back at the same moment.
public struct RetrySchedule: Sendable, Equatable {
    public var steps: [TimeInterval]
    public var jitter: Double

    public init(steps: [TimeInterval], jitter: Double = 0.1) {
        self.steps = steps
        self.jitter = jitter
    }

    /// `["5s", "5m", "30m", "2h", "5h", "10h"]`: a number and `ms`, `s`, `m`, `h` or `d`.
    public init(parsing texts: [String], jitter: Double) throws(ScheduleError) {
        guard !texts.isEmpty else { throw ScheduleError(text: "", reason: "the schedule needs at least one step") }
        guard (0...1).contains(jitter) else { throw ScheduleError(text: "\(jitter)", reason: "the jitter is a fraction from 0 to 1") }
        steps = try texts.map { text throws(ScheduleError) in try Self.duration(text) }
        self.jitter = jitter
    }

    /// Attempts in all: the first and one per step.
    public var attempts: Int { steps.count + 1 }

    /// The wait after attempt `attempt` (from 1) failed; nil when it was the last.
    public func delay(after attempt: Int, random: Double = Double.random(in: -1...1)) -> TimeInterval? {
        guard attempt >= 1, attempt <= steps.count else { return nil }
        let step = steps[attempt - 1]
        return max(0, step * (1 + jitter * max(-1, min(1, random))))
    }

    public static func duration(_ text: String) throws(ScheduleError) -> TimeInterval {
        guard let seconds = DurationText.seconds(text) else {
            throw ScheduleError(text: text, reason: "a step is a number and ms, s, m, h or d")
        }
        return seconds
    }
}

public struct ScheduleError: Error, Sendable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "\(reason) (\(text))" }
}
