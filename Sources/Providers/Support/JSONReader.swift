import EmailEvents
import Foundation

/// JSON text to the values `JSONSerialization.jsonObject(with:options: .fragmentsAllowed)` makes
/// (`[String: Any]`, `[Any]`, `String`, `NSNumber`, `NSNull`), in one pass over the bytes without
/// copying them into `Data` or building an intermediate tree: JSONSerialization was the largest
/// part of the ingress's own work on a request (docs/PERFORMANCE.md, "Where the time goes"). The
/// `json` fuzz target checks it against JSONSerialization on every input.
///
/// The same answers as JSONSerialization, deliberately, so that what a normalizer reads (and the
/// event keys derived from it) does not depend on which parser read it: RFC 8259 (no comments,
/// no leading zeros, `\uXXXX` surrogate pairs whole) but for one trailing comma in an array or
/// object, which Foundation takes; a UTF-8 byte order mark skipped (before the text, and at the
/// start of a string's pieces, as Foundation does); the last of duplicate keys kept; at most 512
/// nested arrays and objects; numbers made as Foundation makes them. Unlike JSONSerialization it
/// reads UTF-8 only (no ESP sends UTF-16 or UTF-32 JSON): such a body is simply not JSON here.
enum JSONReader {
    static let maximumDepth = 512

    /// The value of the whole text, or nil when it is not one JSON value.
    static func parse(_ bytes: some Collection<UInt8>) -> Any? {
        if let value = bytes.withContiguousStorageIfAvailable({ parse(buffer: $0) }) { return value }
        return Array(bytes).withUnsafeBufferPointer { parse(buffer: $0) }
    }

    private static func parse(buffer: UnsafeBufferPointer<UInt8>) -> Any? {
        var reader = Cursor(bytes: buffer)
        if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { reader.index = 3 }
        guard let value = try? reader.value(depth: 0) else { return nil }
        reader.skipWhitespace()
        return reader.index == buffer.count ? value : nil
    }

    private struct Malformed: Error {}

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) throws(Malformed) -> Any {
            skipWhitespace()
            guard index < bytes.count else { throw Malformed() }
            switch bytes[index] {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return try string()
            case UInt8(ascii: "t"): try literal("true"); return NSNumber(value: true)
            case UInt8(ascii: "f"): try literal("false"); return NSNumber(value: false)
            case UInt8(ascii: "n"): try literal("null"); return NSNull()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
            default: throw Malformed()
            }
        }

        mutating func literal(_ word: StaticString) throws(Malformed) {
            let count = word.utf8CodeUnitCount
            guard bytes.count - index >= count else { throw Malformed() }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { throw Malformed() }
            index += count
        }

        /// After a comma: whether the container closes here (Foundation takes one trailing comma).
        mutating func closes(with bracket: Unicode.Scalar) -> Bool {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: bracket) else { return false }
            index += 1
            return true
        }

        mutating func object(depth: Int) throws(Malformed) -> [String: Any] {
            guard depth <= JSONReader.maximumDepth else { throw Malformed() }
            index += 1
            var result: [String: Any] = [:]
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return result
            }
            while true {
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw Malformed() }
                let key = try string()
                skipWhitespace()
                guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw Malformed() }
                index += 1
                result[key] = try value(depth: depth)
                skipWhitespace()
                guard index < bytes.count else { throw Malformed() }
                switch bytes[index] {
                case UInt8(ascii: ","):
                    index += 1
                    if closes(with: "}") { return result }
                case UInt8(ascii: "}"):
                    index += 1
                    return result
                default: throw Malformed()
                }
            }
        }

        mutating func array(depth: Int) throws(Malformed) -> [Any] {
            guard depth <= JSONReader.maximumDepth else { throw Malformed() }
            index += 1
            var result: [Any] = []
            skipWhitespace()
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return result
            }
            while true {
                result.append(try value(depth: depth))
                skipWhitespace()
                guard index < bytes.count else { throw Malformed() }
                switch bytes[index] {
                case UInt8(ascii: ","):
                    index += 1
                    if closes(with: "]") { return result }
                case UInt8(ascii: "]"):
                    index += 1
                    return result
                default: throw Malformed()
                }
            }
        }

        /// A string from its opening quote: a slice of the bytes when it has no escapes (the
        /// common case), else decoded into a buffer. Invalid UTF-8 and unescaped control
        /// characters are errors, as in JSONSerialization.
        mutating func string() throws(Malformed) -> String {
            index += 1
            skipByteOrderMark()
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = String(validating: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
                    index += 1
                    guard let text else { throw Malformed() }
                    return text
                }
                if byte == UInt8(ascii: "\\") { return try escapedString(from: start) }
                guard byte >= 0x20 else { throw Malformed() }
                index += 1
            }
            throw Malformed()
        }

        private mutating func escapedString(from start: Int) throws(Malformed) -> String {
            var decoded = Array(UnsafeBufferPointer(rebasing: bytes[start..<index]))
            while index < bytes.count {
                let byte = bytes[index]
                switch byte {
                case UInt8(ascii: "\""):
                    index += 1
                    guard let text = String(validating: decoded, as: UTF8.self) else { throw Malformed() }
                    return text
                case UInt8(ascii: "\\"):
                    index += 1
                    guard index < bytes.count else { throw Malformed() }
                    let escape = bytes[index]
                    index += 1
                    if let character = JSONEscape.character(escape) {
                        decoded.append(character)
                    } else if escape == UInt8(ascii: "u") {
                        decoded.append(contentsOf: try unicodeEscape())
                    } else {
                        throw Malformed()
                    }
                    skipByteOrderMark()
                case 0..<0x20: throw Malformed()
                default:
                    decoded.append(byte)
                    index += 1
                }
            }
            throw Malformed()
        }

        /// Foundation decodes a string's text in pieces (from its start, and after each escape),
        /// each as a document of its own: a U+FEFF written out (not escaped) at a piece's start
        /// is taken for a byte order mark and dropped. So here too.
        private mutating func skipByteOrderMark() {
            if bytes.count - index >= 3, bytes[index] == 0xEF, bytes[index + 1] == 0xBB, bytes[index + 2] == 0xBF { index += 3 }
        }

        /// After `\u`: four hex digits, and for a high surrogate the `\u` and low surrogate that
        /// must follow; the scalar as UTF-8.
        private mutating func unicodeEscape() throws(Malformed) -> String.UTF8View {
            let unit = try hex4()
            let scalar: Unicode.Scalar?
            if JSONEscape.isHighSurrogate(unit) {
                guard bytes.count - index >= 2, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") else {
                    throw Malformed()
                }
                index += 2
                scalar = JSONEscape.scalar(high: unit, low: try hex4())
            } else {
                scalar = Unicode.Scalar(unit)
            }
            guard let scalar else { throw Malformed() }
            return String(Character(scalar)).utf8
        }

        private mutating func hex4() throws(Malformed) -> UInt32 {
            guard let value = JSONEscape.hex4(bytes, at: index) else { throw Malformed() }
            index += 4
            return value
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, made into an NSNumber by
        /// ``JSONReader/number(_:)``.
        mutating func number() throws(Malformed) -> NSNumber {
            let start = index
            if bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw Malformed() }
            if bytes[index] == UInt8(ascii: "0") {
                index += 1
                if index < bytes.count, isDigit(bytes[index]) { throw Malformed() }
            } else {
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
                index += 1
                guard index < bytes.count, isDigit(bytes[index]) else { throw Malformed() }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
                index += 1
                if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
                guard index < bytes.count, isDigit(bytes[index]) else { throw Malformed() }
                while index < bytes.count, isDigit(bytes[index]) { index += 1 }
            }
            guard let number = JSONReader.number(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
            else { throw Malformed() }
            return number
        }

        private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
    }

    /// A number's text as Foundation's JSONSerialization makes it an NSNumber: an integer that
    /// fits Int64 (negative) or UInt64; more than 17 digits with a small exponent as a Decimal;
    /// anything else as a Double; nil (the text is refused) when it overflows. Foundation looks
    /// for the exponent by a lower-case `e` only, and so does this, to give the same numbers.
    static func number(_ text: String) -> NSNumber? {
        let utf8 = text.utf8
        let exponentAt = utf8.firstIndex(of: UInt8(ascii: "e"))
        let isInteger = !utf8.contains(UInt8(ascii: ".")) && exponentAt == nil
        let digitCount = utf8.distance(from: utf8.startIndex, to: exponentAt ?? utf8.endIndex)
        if isInteger {
            if utf8.first == UInt8(ascii: "-") {
                if digitCount <= 19, let value = Int64(text) { return NSNumber(value: value) }
            } else if digitCount <= 20, let value = UInt64(text) {
                return NSNumber(value: value)
            }
        }
        var exponent = 0
        if let exponentAt, let parsed = Int(Substring(text.utf8[utf8.index(after: exponentAt)...])) { exponent = parsed }
        if digitCount > 17, exponent >= -128, exponent <= 127, let decimal = Decimal(string: text), decimal.isFinite {
            return NSDecimalNumber(decimal: decimal)
        }
        if let value = Double(text), value.isFinite { return NSNumber(value: value) }
        return nil
    }

    /// Whether two parsed values are the same JSON: the same structure, keys, strings, and numbers
    /// of the same kind and value (what the `json` fuzz target and the tests hold this reader to
    /// against JSONSerialization).
    static func equivalent(_ a: Any?, _ b: Any?) -> Bool {
        switch (a, b) {
        case (nil, nil): return true
        case (let a as [String: Any], let b as [String: Any]):
            return a.count == b.count && a.allSatisfy { key, value in b[key].map { equivalent(value, $0) } ?? false }
        case (let a as [Any], let b as [Any]): return a.count == b.count && zip(a, b).allSatisfy { equivalent($0, $1) }
        case (let a as String, let b as String): return a.utf8.elementsEqual(b.utf8)
        case (is NSNull, is NSNull): return true
        case (let a as NSNumber, let b as NSNumber):
            return type(of: a) == type(of: b) && String(cString: a.objCType) == String(cString: b.objCType) && a.isEqual(b)
                && a.stringValue == b.stringValue
        default: return false
        }
    }
}
