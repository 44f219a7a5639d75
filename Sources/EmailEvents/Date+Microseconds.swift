import Foundation

extension Date {
    /// Event times are kept to the microsecond (PostgreSQL's `timestamptz` precision); building
    /// them from integer microseconds makes the stream round trip exact.
    public init(unixMicroseconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixMicroseconds) / 1_000_000)
    }

    public var unixMicroseconds: Int64 {
        Int64((timeIntervalSince1970 * 1_000_000).rounded())
    }

    /// Seconds as the ESPs send them (Mailgun: `1529692199.626182`), rounded to the microsecond.
    public init(unixSeconds: Double) {
        self.init(unixMicroseconds: Int64((unixSeconds * 1_000_000).rounded()))
    }
}
