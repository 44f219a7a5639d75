/// Writes the `e` field of a stream entry by hand: the JSON the synthesized `Codable` conformance
/// of ``EmailEvent`` reads (property names as keys, absent optionals left out, dates as integer
/// microseconds, `raw` empty), because JSONEncoder costs a large share of a single-event request
/// (docs/PERFORMANCE.md, ingress); a test checks the hand-written JSON against `JSONEncoder`'s.
/// ``EventJSONReader`` reads it back.
public enum EventJSON {
    static func encode(_ e: EmailEvent) -> [UInt8] {
        var w = Writer()
        w.text("provider", e.provider.rawValue)
        w.text("source", e.source)
        w.text("type", e.type.rawValue)
        w.text("espEvent", e.espEvent)
        w.text("eventKey", e.eventKey)
        w.text("deliveryId", e.deliveryId)
        w.number("occurredAt", e.occurredAt.unixMicroseconds)
        w.bool("occurredAtEstimated", e.occurredAtEstimated)
        w.number("receivedAt", e.receivedAt.unixMicroseconds)
        w.text("messageId", e.messageId)
        w.text("rfcMessageId", e.rfcMessageId)
        w.text("recipient", e.recipient)
        w.text("recipientDomain", e.recipientDomain)
        w.text("sender", e.sender)
        w.text("senderDomain", e.senderDomain)
        w.text("bounceClass", e.bounceClass?.rawValue)
        w.text("rejectReason", e.rejectReason?.rawValue)
        w.number("smtpCode", e.smtpCode.map(Int64.init))
        w.text("enhancedStatus", e.enhancedStatus)
        w.text("mtaResponse", e.mtaResponse)
        w.text("description", e.description)
        w.key("tags")
        w.array(e.tags)
        w.key("metadata")
        w.object(e.metadata)
        w.text("campaign", e.campaign)
        w.text("clickURL", e.clickURL)
        w.text("userAgent", e.userAgent)
        w.text("ip", e.ip)
        w.bool("isFirst", e.isFirst)
        w.bool("isMachineOpen", e.isMachineOpen)
        w.text("machineFlag", e.machineFlag)
        w.key("raw")
        w.bytes.append(contentsOf: "[]}".utf8)
        return w.bytes
    }

    /// `tags` as a JSON array (the `tags` column).
    public static func json(_ strings: [String]) -> String {
        var w = Writer(capacity: 64)
        w.array(strings)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    /// `metadata` as a JSON object (the `metadata` column).
    public static func json(_ map: [String: String]) -> String {
        var w = Writer(capacity: 128)
        w.object(map)
        return String(decoding: w.bytes, as: UTF8.self)
    }

    private struct Writer {
        var bytes: [UInt8] = []

        init(capacity: Int = 768) { bytes.reserveCapacity(capacity) }

        mutating func array(_ strings: [String]) {
            bytes.append(UInt8(ascii: "["))
            for (i, string) in strings.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                quoted(string)
            }
            bytes.append(UInt8(ascii: "]"))
        }

        mutating func object(_ map: [String: String]) {
            bytes.append(UInt8(ascii: "{"))
            for (i, (key, value)) in map.enumerated() {
                if i > 0 { bytes.append(UInt8(ascii: ",")) }
                quoted(key)
                bytes.append(UInt8(ascii: ":"))
                quoted(value)
            }
            bytes.append(UInt8(ascii: "}"))
        }

        mutating func key(_ name: StaticString) {
            bytes.append(bytes.isEmpty ? UInt8(ascii: "{") : UInt8(ascii: ","))
            bytes.append(UInt8(ascii: "\""))
            bytes.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
            bytes.append(contentsOf: "\":".utf8)
        }

        mutating func text(_ name: StaticString, _ value: String?) {
            guard let value else { return }
            key(name)
            quoted(value)
        }

        mutating func number(_ name: StaticString, _ value: Int64?) {
            guard let value else { return }
            key(name)
            bytes.append(contentsOf: String(value).utf8)
        }

        mutating func bool(_ name: StaticString, _ value: Bool?) {
            guard let value else { return }
            key(name)
            bytes.append(contentsOf: (value ? "true" : "false").utf8)
        }

        mutating func quoted(_ value: String) { EventJSON.appendQuoted(value, to: &bytes) }
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A JSON string: `"` and `\` escaped, control characters as `\u00XX`, the rest as UTF-8.
    public static func appendQuoted(_ value: String, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                bytes.append(UInt8(ascii: "\\"))
                bytes.append(byte)
            case 0..<0x20:
                bytes.append(contentsOf: "\\u00".utf8)
                bytes.append(hexDigits[Int(byte >> 4)])
                bytes.append(hexDigits[Int(byte & 0xF)])
            default:
                bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
