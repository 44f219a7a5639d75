import Foundation

extension Date {
    /// Event times are kept to the microsecond (PostgreSQL's `timestamptz` precision); building
    /// them from integer microseconds makes the stream round trip exact.
    public init(unixMicroseconds: Int64) {
        self.init(timeIntervalSince1970: Double(unixMicroseconds) / 1_000_000)
    }

    /// Only for dates that fit (year ±292,000): event times come through ``EventTime``.
    public var unixMicroseconds: Int64 {
        Int64((timeIntervalSince1970 * 1_000_000).rounded())
    }

}
