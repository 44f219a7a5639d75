import Testing

@testable import Providers

@Suite struct JSONScannerTests {
    func elements(_ text: String) throws -> [String] {
        let bytes = Array(text.utf8)
        return try JSONScanner.elements(of: bytes).map { String(decoding: bytes[$0], as: UTF8.self) }
    }

    @Test func splitsTopLevelElementsExactly() async throws {
        #expect(try elements("[]") == [])
        #expect(try elements(" [ ] ") == [])
        #expect(try elements(#"[{"a":"x,]}"},{"b":[1,{"c":2}]}]"#) == [#"{"a":"x,]}"}"#, #"{"b":[1,{"c":2}]}"#])
        #expect(try elements("[{\"a\":1},\r\n{\"b\":\"\\\"}\"}]\r\n") == ["{\"a\":1}", "{\"b\":\"\\\"}\"}"])
        #expect(try elements("[1, \"two\", null, true]") == ["1", "\"two\"", "null", "true"])
    }

    @Test(arguments: [
        "", "{}", "[", "[1,", "[1 2]", "[1]x", "[,]", "[{\"a\":1}", String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
    ])
    func refusesMalformed(_ text: String) {
        #expect(throws: JSONScanner.Malformed.self) { try JSONScanner.elements(of: Array(text.utf8)) }
    }

    @Test func findsTopLevelMemberValue() {
        let text = #"{"signature":{"event-data":"decoy"}, "event-data" : {"id":"x","n":[1,2]} ,"z":1}"#
        let bytes = Array(text.utf8)
        let range = JSONScanner.valueRange(ofTopLevelKey: "event-data", in: bytes)
        #expect(range.map { String(decoding: bytes[$0], as: UTF8.self) } == #"{"id":"x","n":[1,2]}"#)
        #expect(JSONScanner.valueRange(ofTopLevelKey: "missing", in: bytes) == nil)
        #expect(JSONScanner.valueRange(ofTopLevelKey: "a", in: Array("[1]".utf8)) == nil)
    }
}
