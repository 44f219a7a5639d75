/// What both JSON readers (``EventJSONReader`` for stream entries, the providers' `JSONReader` for
/// bodies) decode alike: the one-character escapes, a `\u` escape's four hex digits and a UTF-16
/// surrogate pair.
public enum JSONEscape {
    /// The byte a one-character escape (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`) stands for;
    /// nil for `u` and anything else.
    @inlinable
    public static func character(_ escape: UInt8) -> UInt8? {
        switch escape {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): escape
        case UInt8(ascii: "b"): 0x08
        case UInt8(ascii: "f"): 0x0C
        case UInt8(ascii: "n"): 0x0A
        case UInt8(ascii: "r"): 0x0D
        case UInt8(ascii: "t"): 0x09
        default: nil
        }
    }

    /// The four hex digits from `start`; nil when fewer remain or one is not a hex digit.
    @inlinable
    public static func hex4<Bytes: RandomAccessCollection<UInt8>>(_ bytes: Bytes, at start: Int) -> UInt32? where Bytes.Index == Int {
        guard start >= bytes.startIndex, bytes.endIndex - start >= 4 else { return nil }
        var value: UInt32 = 0
        for byte in bytes[start..<start + 4] {
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    /// Whether an escape's code unit opens a surrogate pair (a `\u` with the low half must follow).
    @inlinable
    public static func isHighSurrogate(_ unit: UInt32) -> Bool { (0xD800..<0xDC00).contains(unit) }

    /// The scalar of a high and a low surrogate; nil when `low` is not one.
    @inlinable
    public static func scalar(high: UInt32, low: UInt32) -> Unicode.Scalar? {
        guard (0xDC00..<0xE000).contains(low) else { return nil }
        return Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    }
}
