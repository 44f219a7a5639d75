import Testing

@testable import PostwireConfig

@Suite struct DurationTextTests {
    @Test func readsEveryUnitAndRefusesTheRest() {
        #expect(DurationText.seconds("250ms") == 0.25)
        #expect(DurationText.seconds("1.5s") == 1.5)
        #expect(DurationText.seconds("2m") == 120)
        #expect(DurationText.seconds("24h") == 86_400)
        #expect(DurationText.seconds("7d") == 604_800)
        #expect(DurationText.seconds(" 5s ") == 5)
        #expect(DurationText.seconds("0") == 0)
        for bad in ["", "5", "s", "-5s", "5x", "infs", "nans", "5 minutes", "1e400s", "2026-11-01", "ms"] {
            #expect(DurationText.seconds(bad) == nil, "\(bad)")
        }
    }
}
