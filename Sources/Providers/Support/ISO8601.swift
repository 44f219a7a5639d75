import EmailEvents
import Foundation

/// A tolerant ISO 8601 parser: `2016-04-27T16:28:50.3963933-04:00` (Postmark's seven fractional
/// digits), `2023-11-14T22:13:20.123Z`, `2023-11-14 22:13:20+0000`. Fractions are rounded to the
/// microsecond. Foundation's formatters reject some of these, and are slow.
enum ISO8601 {
    static func parse(_ text: String) -> Date? {
        let b = Array(text.trimmed.utf8)
        guard b.count >= 19 else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for i in range {
                guard i < b.count, (48...57).contains(b[i]) else { return nil }
                value = value * 10 + Int(b[i] - 48)
            }
            return value
        }
        guard let year = number(0..<4), b[4] == UInt8(ascii: "-"), let month = number(5..<7), b[7] == UInt8(ascii: "-"),
            let day = number(8..<10), b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: " "),
            let hour = number(11..<13), b[13] == UInt8(ascii: ":"), let minute = number(14..<16), b[16] == UInt8(ascii: ":"),
            let second = number(17..<19), (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        var micros: Int64 = 0
        if index < b.count, b[index] == UInt8(ascii: ".") || b[index] == UInt8(ascii: ",") {
            index += 1
            var digits = 0
            var fraction: Int64 = 0
            var roundUp = false
            while index < b.count, (48...57).contains(b[index]) {
                if digits < 6 {
                    fraction = fraction * 10 + Int64(b[index] - 48)
                } else if digits == 6 {
                    roundUp = b[index] >= 53
                }
                digits += 1
                index += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 6) { fraction *= 10 }
            micros = fraction + (roundUp ? 1 : 0)
        }
        var offsetSeconds = 0
        if index < b.count {
            switch b[index] {
            case UInt8(ascii: "Z"), UInt8(ascii: "z"):
                index += 1
            case UInt8(ascii: "+"), UInt8(ascii: "-"):
                let sign = b[index] == UInt8(ascii: "-") ? -1 : 1
                guard let hours = number((index + 1)..<(index + 3)) else { return nil }
                var next = index + 3
                if next < b.count, b[next] == UInt8(ascii: ":") { next += 1 }
                let minutes = number(next..<(next + 2)) ?? 0
                if number(next..<(next + 2)) != nil { next += 2 }
                offsetSeconds = sign * (hours * 3600 + minutes * 60)
                index = next
            default:
                return nil
            }
        }
        guard index == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second - offsetSeconds)
        return Date(unixMicroseconds: seconds * 1_000_000 + micros)
    }

    /// Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}
