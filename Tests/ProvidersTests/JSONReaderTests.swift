import Foundation
import Testing

@testable import Providers

/// JSONReader gives what JSONSerialization gives (the `json` fuzz target checks the same on
/// arbitrary bytes): on every fixture, and on the edge cases of each part of the grammar.
@Suite struct JSONReaderTests {
    static func foundation(_ bytes: [UInt8]) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    @Test func everyFixtureReadsAsFoundationReadsIt() throws {
        let files = try #require(FileManager.default.enumerator(at: Fixtures.root, includingPropertiesForKeys: nil))
        var compared = 0
        for case let url as URL in files where url.pathExtension == "json" {
            let bytes = Array(try Data(contentsOf: url))
            #expect(JSONReader.equivalent(JSONReader.parse(bytes), Self.foundation(bytes)), "\(url.lastPathComponent)")
            compared += 1
        }
        #expect(compared > 50, "the fixtures were found")
    }

    @Test(arguments: [
        // numbers: integers, the Int64/UInt64 edges, Decimal's digits, exponents either case, overflow
        "0", "-0", "1", "-1", "0.5", "-0.0", "1e5", "1E5", "1e+5", "1E-5", "2.5e3", "9223372036854775807", "-9223372036854775808",
        "-9223372036854775809", "18446744073709551615", "18446744073709551616", "123456789012345678901234",
        "1.23456789012345678901e3", "0.000000000000000000001234", "1e400", "-1e400", "1e-400", "1.5e308", "12345678901234567890e200",
        // strings and escapes
        #""""#, #""plain""#, #""\"\\\/\b\f\n\r\t""#, #""\u00e9\u4e2d""#, #""\ud83d\ude00""#, #""\uD83D\uDE00""#, #""\ud800""#,
        #""\udc00""#, #""\ud800\u0041""#, #""\u12""#, #""\x""#, "\"tab\there\"", "\"\u{7F}\"", #""unterminated"#,
        // literals, structure, whitespace
        "true", "false", "null", "nul", "True", "[]", "{}", " [ 1 , 2 ] ", "[1,]", "[,1]", "{\"a\":1,}", "[1,,]", "{\"a\":1,,}", "[1, ]",
        "{\"a\" 1}", "{1:2}",
        #"{"a":1,"a":2}"#, "[1]]", "[1] x", "\t\r\n{}\n", "", " ", "01", "-", "1.", ".5", "+1", "1e", "--1", "[01]", "[-]",
        // a byte order mark, before the text and in strings (Foundation drops one written out at
        // the start of a string and right after an escape, and keeps an escaped one)
        "\u{FEFF}{\"a\":1}", "\u{FEFF}", "[\"\u{FEFF}x\"]", "[\"\u{FEFF}\u{FEFF}x\"]", "[\"a\u{FEFF}\"]", "[\"\\ufeffx\"]",
        "{\"\u{FEFF}k\":1}", "[\"a\\n\u{FEFF}b\"]", "[\"\\u0041\u{FEFF}b\"]", "[\"x\\\"\u{FEFF}y\\\"\u{FEFF}z\"]",
    ])
    func readsAsFoundationReads(_ text: String) {
        let bytes = Array(text.utf8)
        #expect(JSONReader.equivalent(JSONReader.parse(bytes), Self.foundation(bytes)), "\(text)")
    }

    @Test func refusesWhatFoundationRefuses() {
        for bytes: [UInt8] in [
            Array(#"{"bad":""#.utf8) + [0xFF] + Array(#""}"#.utf8),  // invalid UTF-8 in a string
            Array(#"[""#.utf8) + [0xC3] + Array(#""]"#.utf8),  // a truncated sequence
            Array("[\"".utf8) + [0x01] + Array("\"]".utf8),  // an unescaped control character
        ] {
            #expect(JSONReader.parse(bytes) == nil)
            #expect(Self.foundation(bytes) == nil)
        }
    }

    @Test func nestsAsDeepAsFoundationAndNoDeeper() {
        for depth in [1, 100, 511, 512, 513, 10_000] {
            let bytes = Array((String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).utf8)
            #expect(JSONReader.equivalent(JSONReader.parse(bytes), Self.foundation(bytes)), "depth \(depth)")
        }
        let deep = Array((String(repeating: "{\"a\":", count: 513) + "1" + String(repeating: "}", count: 513)).utf8)
        #expect(JSONReader.parse(deep) == nil)
        #expect(JSONReader.parse(Array((String(repeating: "[", count: 512) + String(repeating: "]", count: 512)).utf8)) != nil)
    }

    @Test func keepsTheKindsTheAccessorsRead() throws {
        let object = try #require(JSONObject.parse(Array(#"{"t":true,"n":3,"d":1.5,"s":"x","big":12345678901234567890123}"#.utf8)))
        #expect(object.bool("t") == true && object.string("t") == nil, "a boolean is not a number's text")
        #expect(object.int("n") == 3 && object.string("n") == "3")
        #expect(object.double("d") == 1.5)
        #expect(object.string("big") == "12345678901234567890123", "Decimal keeps every digit")
    }
}
