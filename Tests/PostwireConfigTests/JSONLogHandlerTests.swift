import Foundation
import Logging
import Testing

@testable import PostwireConfig

@Suite struct JSONLogHandlerTests {
    @Test func oneParsableObjectPerLineWithTheMetadata() throws {
        var handler = JSONLogHandler(label: "postwire.test", level: .info)
        handler[metadataKey: "provider"] = "mailgun"
        handler[metadataKey: "status"] = "200"
        let event = LogEvent(
            level: .info, message: "a \"quoted\"\nline\u{1}", metadata: ["status": "406", "events": .stringConvertible(3)],
            source: nil, file: #fileID, function: #function, line: #line)
        let line = handler.render(event, at: Date(timeIntervalSince1970: 1_700_000_000.25))
        #expect(line.hasSuffix("}\n"))
        #expect(line.dropLast().contains("\n") == false, "one line")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String])
        #expect(
            object == [
                "time": "2023-11-14T22:13:20.250Z", "level": "info", "logger": "postwire.test", "message": "a \"quoted\"\nline\u{1}",
                "provider": "mailgun", "status": "406", "events": "3",
            ])
    }
}
