import Foundation
import Testing

@testable import EmailEvents

@Suite struct StreamEntryCodecTests {
    static func fullEvent() -> EmailEvent {
        var event = EmailEvent(
            provider: .mailgun, source: "eu", type: .bounced, espEvent: "failed", eventKey: "abc:1700000000123456",
            occurredAt: Date(unixMicroseconds: 1_700_000_000_123_456), receivedAt: Date(unixMicroseconds: 1_700_000_001_000_001),
            raw: Array(#"{"event":"failed","note":"Jos\u00e9 \/ \"quoted\""}"#.utf8)
        )
        event.deliveryId = "token-1"
        event.messageId = "20231114.abc@mg.example.com"
        event.rfcMessageId = "20231114.abc@mg.example.com"
        event.setRecipient("Alice <Alice@Example.COM>")
        event.setSender("bounces@MG.example.com")
        event.bounceClass = .hard
        event.rejectReason = .bounced
        event.smtpCode = 550
        event.enhancedStatus = "5.1.1"
        event.mtaResponse = "550 5.1.1 no such user"
        event.description = "mailbox does not exist"
        event.tags = ["newsletter", "spring"]
        event.metadata = ["campaign": "spring-sale", "nested": #"{"a":1}"#]
        event.campaign = "spring-sale"
        event.clickURL = "https://example.com/?a=1&b=2"
        event.userAgent = "Mozilla/5.0"
        event.ip = "203.0.113.7"
        event.isFirst = true
        event.isMachineOpen = false
        return event
    }

    @Test func roundTripKeepsEveryField() throws {
        let event = Self.fullEvent()
        let fields = Dictionary(uniqueKeysWithValues: StreamEntryCodec.encode(event))
        #expect(try StreamEntryCodec.decode(fields) == event)
    }

    /// The ingress writes entries by hand (EventJSON). The hand-written JSON must be, as JSON, what
    /// the synthesized Codable conformance writes, so that JSONDecoder (the reader's fallback) reads
    /// it too.
    @Test(arguments: [
        fullEvent(),
        EmailEvent(
            provider: .sendgrid, source: "default", type: .opened, espEvent: "open", eventKey: "k",
            occurredAt: Date(unixMicroseconds: -1), receivedAt: Date(unixMicroseconds: 0), raw: []),
        {
            var event = fullEvent()
            event.description = "quote \" backslash \\ newline \n tab \t bell \u{7} nul \u{0} del \u{7F} é 😀 \u{2028} </script>"
            event.tags = ["", "a\"b", "\u{1F}"]
            event.metadata = ["k\"ey": "v\\al", "": "", "ü": "\r"]
            event.smtpCode = nil
            event.isFirst = nil
            return event
        }(),
    ])
    func handWrittenJSONMatchesCodable(event: EmailEvent) throws {
        var stripped = event
        stripped.raw = []
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.unixMicroseconds)
        }
        let reference = try JSONSerialization.jsonObject(with: encoder.encode(stripped)) as? NSDictionary
        let handWritten = try JSONSerialization.jsonObject(with: Data(EventJSON.encode(event))) as? NSDictionary
        #expect(reference != nil)
        #expect(handWritten == reference)
        let fields = Dictionary(uniqueKeysWithValues: StreamEntryCodec.encode(event))
        #expect(try StreamEntryCodec.decode(fields) == event)
    }

    /// The worker reads entries with EventJSONReader: for what the ingress writes, and for what
    /// JSONEncoder wrote (sorted keys, `\/`, `\uXXXX`), it must give what JSONDecoder gives.
    @Test func readerMatchesJSONDecoder() throws {
        var events = Self.readerCases()
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Character] = [
            "a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", "é", "ß", "€", "😀", "\u{2028}",
            "\u{FEFF}", "<", "&",
        ]
        func random() -> String {
            String((0..<Int.random(in: 0...12, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
        }
        for _ in 0..<200 {
            var event = Self.fullEvent()
            event.description = random()
            event.mtaResponse = Bool.random(using: &generator) ? random() : nil
            event.tags = (0..<Int.random(in: 0...3, using: &generator)).map { _ in random() }
            event.metadata = Dictionary(
                (0..<Int.random(in: 0...3, using: &generator)).map { _ in (random(), random()) }, uniquingKeysWith: { a, _ in a })
            event.smtpCode = Bool.random(using: &generator) ? Int.random(in: -1000...1000, using: &generator) : nil
            events.append(event)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.unixMicroseconds)
        }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in Date(unixMicroseconds: try decoder.singleValueContainer().decode(Int64.self)) }
        for var event in events {
            event.raw = []
            for json in [EventJSON.encode(event), Array(try encoder.encode(event))] {
                let reference = try decoder.decode(EmailEvent.self, from: Data(json))
                #expect(reference == event)
                #expect(try EventJSONReader.decode(json) == reference, "\(String(decoding: json, as: UTF8.self))")
            }
        }
    }

    static func readerCases() -> [EmailEvent] {
        var bare = EmailEvent(
            provider: .sendgrid, source: "default", type: .opened, espEvent: "open", eventKey: "k",
            occurredAt: Date(unixMicroseconds: -1), receivedAt: Date(unixMicroseconds: 0), raw: [])
        bare.isMachineOpen = true
        var full = fullEvent()
        full.description = "quote \" backslash \\ newline \n nul \u{0} é 😀 \u{2028}"
        return [fullEvent(), bare, full]
    }

    /// What the reader was not written for throws, and the codec then decodes it as JSONDecoder
    /// does: an unknown key is ignored, `550.0` is 550. (`null` for an optional the reader reads.)
    @Test func readerRefusesTheUnexpectedAndTheCodecFallsBack() throws {
        let json = String(decoding: EventJSON.encode(Self.fullEvent()), as: UTF8.self)
        for variant in [
            json.replacingOccurrences(of: #""tags""#, with: #""future":{"x":[1,2]},"tags""#),
            json.replacingOccurrences(of: #""smtpCode":550"#, with: #""smtpCode":550.0"#),
        ] {
            #expect(variant != json)
            #expect(throws: EventJSONReader.Unexpected.self) { try EventJSONReader.decode(Array(variant.utf8)) }
            var fields = Dictionary(uniqueKeysWithValues: StreamEntryCodec.encode(Self.fullEvent()))
            fields["e"] = Array(variant.utf8)
            #expect(try StreamEntryCodec.decode(fields) == Self.fullEvent())
        }
        let null = json.replacingOccurrences(of: #""smtpCode":550"#, with: #""smtpCode":null"#)
        #expect(null != json)
        #expect(try EventJSONReader.decode(Array(null.utf8)).smtpCode == nil)
        for broken in [
            json.replacingOccurrences(of: #""eventKey""#, with: #""eventKeys""#),
            json.replacingOccurrences(of: "spring-sale", with: "spring\u{1}sale"),
            json.replacingOccurrences(of: "spring-sale", with: #"spring\ud800sale"#),
            json.replacingOccurrences(of: #""provider":"mailgun""#, with: #""provider":"mailgunx""#),
            String(json.dropLast()),
            json + "x",
        ] {
            #expect(broken != json)
            #expect(throws: EventJSONReader.Unexpected.self) { try EventJSONReader.decode(Array(broken.utf8)) }
        }
        var invalidUTF8 = Array(json.utf8)
        invalidUTF8[invalidUTF8.firstIndex(of: UInt8(ascii: "M"))!] = 0xFF
        #expect(throws: EventJSONReader.Unexpected.self) { try EventJSONReader.decode(invalidUTF8) }
    }

    @Test(arguments: ["", "   ", "abc", " a b ", "\n\t x \r\n", "\u{2028}é\u{A0}", "\u{3000}全角\u{3000}", "x\u{85}", "\u{200B}z"])
    func trimmedMatchesFoundation(text: String) {
        #expect(text.trimmed == text.trimmingCharacters(in: .whitespacesAndNewlines))
        #expect(text[...].trimmed == text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    @Test func rawTravelsInItsOwnFieldByteExact() {
        let event = Self.fullEvent()
        let fields = Dictionary(uniqueKeysWithValues: StreamEntryCodec.encode(event))
        #expect(fields["r"] == event.raw)
        #expect(fields["v"] == Array("1".utf8))
        #expect(fields["p"] == Array("mailgun".utf8))
        #expect(fields["k"] == Array("abc:1700000000123456".utf8))
        #expect(String(decoding: fields["e"]!, as: UTF8.self).contains("Jos") == false)
    }

    @Test func refusesUnknownVersionAndMissingFields() {
        var fields = Dictionary(uniqueKeysWithValues: StreamEntryCodec.encode(Self.fullEvent()))
        fields["v"] = Array("2".utf8)
        #expect(throws: StreamEntryCodec.DecodingError.unsupportedVersion("2")) { try StreamEntryCodec.decode(fields) }
        fields["v"] = Array("1".utf8)
        fields["e"] = nil
        #expect(throws: StreamEntryCodec.DecodingError.missingField("e")) { try StreamEntryCodec.decode(fields) }
    }

    @Test func garbageEventJSONIsATypedError() {
        var fields = Dictionary(uniqueKeysWithValues: StreamEntryCodec.encode(Self.fullEvent()))
        fields["e"] = Array("{not json".utf8)
        #expect(throws: StreamEntryCodec.DecodingError.self) { try StreamEntryCodec.decode(fields) }
    }
}

@Suite struct AddressTests {
    @Test(
        arguments: [
            ("Alice@Example.COM", "alice@example.com", "example.com"),
            ("\"Dave Example\" <Dave@Example.net>", "dave@example.net", "example.net"),
            ("  bob@x.org ", "bob@x.org", "x.org"),
            ("no-at-sign", "no-at-sign", nil),
        ] as [(String, String, String?)])
    func recipientIsLowerCasedWithItsDomain(input: String, address: String, domain: String?) {
        var event = StreamEntryCodecTests.fullEvent()
        event.setRecipient(input)
        #expect(event.recipient == address)
        #expect(event.recipientDomain == domain)
    }

    @Test func emptyAddressIsNil() {
        var event = StreamEntryCodecTests.fullEvent()
        event.setSender("  ")
        #expect(event.sender == nil)
        #expect(event.senderDomain == nil)
    }

    @Test func microsecondsRoundTripExactly() {
        for micros: Int64 in [0, 1, 1_700_000_060_000_001, 1_700_000_005_250_001, -5] {
            #expect(Date(unixMicroseconds: micros).unixMicroseconds == micros)
        }
        let received = Date(timeIntervalSince1970: 1_700_000_100)
        #expect(EventTime.seconds(1_700_000_005.250001, receivedAt: received)?.unixMicroseconds == 1_700_000_005_250_001)
    }

    /// Out-of-range and non-finite times are absent, never a trap: the values a hostile or broken
    /// ESP sends (1e13 s overflowed Int64 microseconds and crashed the ingress).
    @Test func implausibleEventTimesAreAbsent() {
        let received = Date(timeIntervalSince1970: 1_700_000_000)
        for bad: Double in [
            1e13, 1e300, -1e300, 9.3e18, -1, 0, 946_684_799, 1_700_086_401, .infinity, -.infinity, .nan, .greatestFiniteMagnitude,
        ] {
            #expect(EventTime.seconds(bad, receivedAt: received) == nil, "\(bad) s")
            #expect(EventTime.milliseconds(bad, receivedAt: received) == nil, "\(bad) ms")
        }
        #expect(EventTime.milliseconds(1e13, receivedAt: Date(timeIntervalSince1970: 1e10)) != nil, "1e13 ms is 2286")
        #expect(EventTime.seconds(946_684_800, receivedAt: received) != nil)
        #expect(EventTime.seconds(1_700_086_400, receivedAt: received) != nil, "a day ahead of receipt is allowed")
        #expect(EventTime.checked(Date(timeIntervalSince1970: -62_135_596_800), receivedAt: received) == nil, "year 1")
        #expect(EventTime.checked(nil, receivedAt: received) == nil)
    }

    @Test func anEventWithoutATimeTakesItsReceiveTimeMarkedEstimated() throws {
        let received = Date(timeIntervalSince1970: 1_700_000_000)
        var event = EmailEvent(
            provider: .mailgun, source: "default", type: .delivered, espEvent: "delivered", eventKey: "k", occurredAt: nil,
            receivedAt: received, raw: Array("{}".utf8))
        #expect(event.occurredAt == received && event.occurredAtEstimated == true)
        let decoded = try StreamEntryCodec.decode(Dictionary(StreamEntryCodec.encode(event), uniquingKeysWith: { a, _ in a }))
        #expect(decoded == event)
        event.occurredAtEstimated = nil
        #expect(!String(decoding: EventJSON.encode(event), as: UTF8.self).contains("occurredAtEstimated"))
    }
}
