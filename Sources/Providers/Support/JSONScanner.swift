/// Finds the byte ranges of JSON values without decoding them, so each event keeps its exact bytes
/// as `raw`: the elements of a top-level array (SendGrid and other batch ESPs), or the value of a
/// top-level member (Mailgun's `event-data`).
///
/// Only structure is checked here (brackets, strings, escapes); each value is parsed on its own
/// afterwards. Nesting deeper than `maxDepth` is refused, so hostile input cannot exhaust memory.
enum JSONScanner {
    struct Malformed: Error {
        var reason: String
    }

    static let maxDepth = 64

    static func elements(of bytes: [UInt8]) throws(Malformed) -> [Range<Int>] {
        var index = skipWhitespace(bytes, from: 0)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "[") else {
            throw Malformed(reason: "body is not a JSON array")
        }
        index += 1
        var ranges: [Range<Int>] = []
        index = skipWhitespace(bytes, from: index)
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") {
            return try finish(bytes, after: index + 1, ranges)
        }
        while true {
            let start = index
            let end = try scanValue(bytes, from: start)
            guard end > start else { throw Malformed(reason: "empty array element at offset \(start)") }
            ranges.append(start..<end)
            index = skipWhitespace(bytes, from: end)
            guard index < bytes.count else { throw Malformed(reason: "array is not closed") }
            switch bytes[index] {
            case UInt8(ascii: ","): index = skipWhitespace(bytes, from: index + 1)
            case UInt8(ascii: "]"): return try finish(bytes, after: index + 1, ranges)
            default: throw Malformed(reason: "unexpected byte at offset \(index)")
            }
        }
    }

    /// The range of the value of `key` in a top-level JSON object (the last one if repeated, as
    /// JSON parsers do); `nil` if the body is not an object or has no such key.
    static func valueRange(ofTopLevelKey key: String, in bytes: [UInt8]) -> Range<Int>? {
        var index = skipWhitespace(bytes, from: 0)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return nil }
        index = skipWhitespace(bytes, from: index + 1)
        let wanted = Array(key.utf8)
        var found: Range<Int>?
        while index < bytes.count, bytes[index] == UInt8(ascii: "\"") {
            guard let keyEnd = try? scanValue(bytes, from: index) else { return nil }
            let name = bytes[(index + 1)..<(keyEnd - 1)]
            index = skipWhitespace(bytes, from: keyEnd)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
            let valueStart = skipWhitespace(bytes, from: index + 1)
            guard let valueEnd = try? scanValue(bytes, from: valueStart), valueEnd > valueStart else { return nil }
            if name.elementsEqual(wanted) { found = valueStart..<valueEnd }
            index = skipWhitespace(bytes, from: valueEnd)
            guard index < bytes.count else { return nil }
            if bytes[index] == UInt8(ascii: "}") { return found }
            guard bytes[index] == UInt8(ascii: ",") else { return nil }
            index = skipWhitespace(bytes, from: index + 1)
        }
        return nil
    }

    /// The range of the value at `path` (object keys, outermost first), in `bytes`' indices.
    static func valueRange(atPath path: [String], in bytes: [UInt8]) -> Range<Int>? {
        var range = 0..<bytes.count
        for key in path {
            let slice = Array(bytes[range])
            guard let inner = valueRange(ofTopLevelKey: key, in: slice) else { return nil }
            range = (range.lowerBound + inner.lowerBound)..<(range.lowerBound + inner.upperBound)
        }
        return range
    }

    private static func finish(_ bytes: [UInt8], after index: Int, _ ranges: [Range<Int>]) throws(Malformed) -> [Range<Int>] {
        guard skipWhitespace(bytes, from: index) == bytes.count else {
            throw Malformed(reason: "trailing bytes after the array")
        }
        return ranges
    }

    /// Returns the index just past the JSON value that starts at `start`.
    private static func scanValue(_ bytes: [UInt8], from start: Int) throws(Malformed) -> Int {
        var depth = 0
        var index = start
        var inString = false
        while index < bytes.count {
            let byte = bytes[index]
            if inString {
                if byte == UInt8(ascii: "\\") {
                    index += 1
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                    if depth == 0 { return index + 1 }
                }
            } else {
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    depth += 1
                    guard depth <= maxDepth else { throw Malformed(reason: "nesting deeper than \(maxDepth)") }
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    if depth == 0 { return index }
                    depth -= 1
                    if depth == 0 { return index + 1 }
                case UInt8(ascii: ","), UInt8(ascii: ":"), 0x20, 0x09, 0x0a, 0x0d:
                    if depth == 0 { return index }
                default: break
                }
            }
            index += 1
        }
        if depth == 0 && !inString && index > start { return index }
        throw Malformed(reason: "array is not closed")
    }

    private static func skipWhitespace(_ bytes: [UInt8], from start: Int) -> Int {
        var index = start
        while index < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[index]) { index += 1 }
        return index
    }
}
