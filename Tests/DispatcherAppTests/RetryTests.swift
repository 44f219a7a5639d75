import Foundation
import Testing

@testable import DispatcherApp

@Suite struct RetryTests {
    static let schedule = try! RetrySchedule(parsing: ["5s", "5m", "30m", "2h", "5h", "10h"], jitter: 0.1)

    @Test func theDefaultScheduleSpansAboutADay() {
        #expect(Self.schedule.steps == [5, 300, 1800, 7200, 18_000, 36_000])
        #expect(Self.schedule.attempts == 7)
        let total = Self.schedule.steps.reduce(0, +)
        #expect(total > 17 * 3600 && total < 18 * 3600)
    }

    @Test func jitterStaysWithinItsFraction() {
        #expect(Self.schedule.delay(after: 1, random: 0) == 5)
        #expect(Self.schedule.delay(after: 1, random: 1) == 5.5)
        #expect(Self.schedule.delay(after: 2, random: -1) == 270)
        #expect(Self.schedule.delay(after: 2, random: 7) == 330)  // clamped
        for _ in 0..<1000 {
            let wait = Self.schedule.delay(after: 3)!
            #expect(wait >= 1620 && wait <= 1980)
        }
        #expect(Self.schedule.delay(after: 6, random: 0) == 36_000)
        #expect(Self.schedule.delay(after: 7) == nil)
        #expect(Self.schedule.delay(after: 0) == nil)
        #expect(Self.schedule.delay(after: -3) == nil)
    }

    @Test func stepsParseInEveryUnitAndBadOnesAreRefused() throws {
        #expect(try RetrySchedule.duration("250ms") == 0.25)
        #expect(try RetrySchedule.duration("1.5s") == 1.5)
        #expect(try RetrySchedule.duration("2m") == 120)
        #expect(try RetrySchedule.duration("1d") == 86_400)
        for bad in ["", "5", "s", "-5s", "5x", "infs", "nans", "5 minutes", "1e400s"] {
            #expect(throws: ScheduleError.self, "\(bad)") { try RetrySchedule.duration(bad) }
        }
        #expect(throws: ScheduleError.self) { try RetrySchedule(parsing: [], jitter: 0.1) }
        #expect(throws: ScheduleError.self) { try RetrySchedule(parsing: ["5s"], jitter: 1.5) }
        #expect(throws: ScheduleError.self) { try RetrySchedule(parsing: ["5s"], jitter: -0.1) }
    }

    @Test func answersMeanWhatSendersAgreeOn() {
        func verdict(_ status: Int?, retryAfter: TimeInterval? = nil, attempt: Int = 1) -> AttemptPolicy.Verdict {
            AttemptPolicy.verdict(
                status: status, retryAfter: retryAfter, attempt: attempt, schedule: Self.schedule, maxRetryAfter: 3600, random: 0)
        }
        for status in [200, 201, 202, 204, 299] { #expect(verdict(status) == .delivered) }
        #expect(verdict(410) == .gone)
        #expect(verdict(410, attempt: 99) == .gone)
        for status: Int? in [nil, 100, 301, 302, 400, 401, 404, 413, 500, 502, 503] { #expect(verdict(status) == .retry(after: 5)) }
        #expect(verdict(500, attempt: 2) == .retry(after: 300))
        #expect(verdict(500, attempt: 7) == .exhausted)
        #expect(verdict(429, retryAfter: 42) == .retry(after: 42))
        #expect(verdict(503, retryAfter: 42) == .retry(after: 42))
        #expect(verdict(429, retryAfter: 99_999) == .retry(after: 3600))
        #expect(verdict(429) == .retry(after: 5))
        // Retry-After from another status is not the receiver's rate limit.
        #expect(verdict(500, retryAfter: 42) == .retry(after: 5))
        #expect(verdict(429, retryAfter: 42, attempt: 7) == .exhausted)
    }

    @Test func retryAfterReadsSecondsAndDates() {
        let now = Date(timeIntervalSince1970: 1_445_412_480)  // Wed, 21 Oct 2015 07:28:00 GMT
        #expect(AttemptPolicy.retryAfter("120", now: now) == 120)
        #expect(AttemptPolicy.retryAfter(" 0 ", now: now) == 0)
        #expect(AttemptPolicy.retryAfter("Wed, 21 Oct 2015 07:30:00 GMT", now: now) == 120)
        #expect(AttemptPolicy.retryAfter("Wed, 21 Oct 2015 07:00:00 GMT", now: now) == 0)
        for bad: String? in [nil, "", "-5", "soon", "99999999999999999999999", "1.5"] {
            #expect(AttemptPolicy.retryAfter(bad, now: now) == nil, "\(String(describing: bad))")
        }
    }

    @Test func theRateLimiterSpacesRequests() async {
        var unlimited = RequestRate(perSecond: nil)
        #expect(await unlimited.take(upTo: 4) { false } == 4)
        var limited = RequestRate(perSecond: 20)
        // A second's worth at once, then about one per 50 ms.
        #expect(await limited.take(upTo: 100) { false } == 20)
        let start = ContinuousClock.now
        var taken = 0
        while taken < 5 { taken += await limited.take(upTo: 1) { false } }
        #expect(ContinuousClock.now - start >= .milliseconds(200))
        // A slow rate stops waiting as soon as the lane is stopped.
        var slow = RequestRate(perSecond: 0.001)
        #expect(await slow.take(upTo: 1) { false } == 1)
        let stopping = ContinuousClock.now
        #expect(await slow.take(upTo: 1) { true } == 0)
        // The next token is 1,000 s away; seconds, not that, even on a machine busy with every test at once.
        #expect(ContinuousClock.now - stopping < .seconds(5))
    }
}
