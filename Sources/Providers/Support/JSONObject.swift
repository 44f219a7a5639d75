import EmailEvents
import Foundation

/// A lenient read-only view of a parsed JSON object. ESPs send numbers as strings and strings as
/// numbers from one payload to the next, and add fields over time: the accessors convert where the
/// meaning is clear and return `nil` otherwise, so a normalizer never fails on an unexpected type.
///
/// `@unchecked Sendable`: the storage is what ``JSONReader`` made (immutable dictionaries,
/// arrays, strings and numbers, as JSONSerialization makes them), only ever read after parsing.
struct JSONObject: @unchecked Sendable {
    let storage: [String: Any]

    init?(_ value: Any?) {
        guard let dictionary = value as? [String: Any] else { return nil }
        storage = dictionary
    }

    /// Parses `bytes` as one JSON value; `nil` when it is not a JSON object.
    static func parse(_ bytes: some Collection<UInt8>) -> JSONObject? {
        JSONObject(parseValue(bytes))
    }

    static func parseValue(_ bytes: some Collection<UInt8>) -> Any? {
        JSONReader.parse(bytes)
    }

    subscript(key: String) -> Any? { storage[key] }

    func string(_ key: String) -> String? {
        switch storage[key] {
        case let text as String: text
        case let number as NSNumber where !Self.isBool(number): number.stringValue
        default: nil
        }
    }

    /// A non-empty string, trimmed.
    func text(_ key: String) -> String? {
        guard let value = string(key)?.trimmed, !value.isEmpty else {
            return nil
        }
        return value
    }

    func double(_ key: String) -> Double? {
        switch storage[key] {
        case let number as NSNumber where !Self.isBool(number): number.doubleValue.isFinite ? number.doubleValue : nil
        case let text as String: Double(text.trimmed).flatMap { $0.isFinite ? $0 : nil }
        default: nil
        }
    }

    /// An integer that fits in `Int`, from a number or a numeric string.
    func int(_ key: String) -> Int? {
        guard let value = double(key), value.rounded() == value, abs(value) < 1e15 else { return nil }
        return Int(value)
    }

    func bool(_ key: String) -> Bool? {
        switch storage[key] {
        case let number as NSNumber: number.boolValue
        case let text as String:
            ["true", "1", "yes"].contains(text.lowercased())
                ? true
                : (["false", "0", "no"].contains(text.lowercased()) ? false : nil)
        default: nil
        }
    }

    func object(_ key: String) -> JSONObject? { JSONObject(storage[key]) }

    func array(_ key: String) -> [Any]? { storage[key] as? [Any] }

    /// A string or an array of strings (SendGrid's `category` is either).
    func strings(_ key: String) -> [String] {
        switch storage[key] {
        case let text as String: [text]
        case let list as [Any]: list.compactMap { $0 as? String }
        default: []
        }
    }

    /// Every value as text: strings as they are, anything else as compact JSON.
    static func textValue(_ value: Any) -> String? {
        switch value {
        case let text as String: return text
        case is NSNull: return nil
        case let number as NSNumber where isBool(number): return number.boolValue ? "true" : "false"
        case let number as NSNumber: return number.stringValue
        default:
            guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys])
            else { return nil }
            return String(decoding: data, as: UTF8.self)
        }
    }

    static func isBool(_ number: NSNumber) -> Bool {
        // Foundation reports JSON booleans with the `c` (char) objCType, numbers with others.
        String(cString: number.objCType) == "c"
    }
}
