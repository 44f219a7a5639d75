import Foundation

/// A duration as the configuration and the CLI write it: a number and `ms`, `s`, `m`, `h` or `d`
/// (`250ms`, `5s`, `1.5h`, `7d`), or `0`. One reading for `dispatcher.retrySchedule`,
/// `postwire endpoints rotate-secret --overlap` and the CLI's `--since 7d`.
public enum DurationText {
    /// Seconds, or nil when `text` is not such a duration (negative, infinite, NaN, no unit).
    public static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "0" { return 0 }
        // Longest suffix first: "5ms" also ends in "s".
        for (suffix, scale) in [("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0), ("d", 86_400.0)]
        where trimmed.hasSuffix(suffix) {
            guard let value = Double(trimmed.dropLast(suffix.count)), value.isFinite, value >= 0 else { continue }
            return value * scale
        }
        return nil
    }
}
