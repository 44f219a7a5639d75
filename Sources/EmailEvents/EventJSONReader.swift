import Foundation

/// Reads the `e` field of a stream entry: the JSON ``EventJSON`` writes (and JSONEncoder wrote
/// before it), in any key order, at a fraction of JSONDecoder's cost, which dominated a worker's
/// CPU (docs/PERFORMANCE.md, worker). The reader knows exactly the keys and types of ``EmailEvent``; anything
/// else (an unknown key, a number with a fraction or exponent, a missing field, invalid UTF-8)
/// throws, and ``StreamEntryCodec`` then asks JSONDecoder, so it never accepts less than before.
struct EventJSONReader {
    struct Unexpected: Error {}

    private let bytes: [UInt8]
    private var i = 0

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    static func decode(_ json: [UInt8]) throws(Unexpected) -> EmailEvent {
        var r = EventJSONReader(json)
        var provider: Provider?, type: EventType?, source: String?, espEvent: String?, eventKey: String?
        var occurredAt: Int64?, receivedAt: Int64?, tags: [String]?, metadata: [String: String]?, raw = false
        var deliveryId: String?, messageId: String?, rfcMessageId: String?, recipient: String?, recipientDomain: String?
        var sender: String?, senderDomain: String?, bounceClass: BounceClass?, rejectReason: RejectReason?
        var smtpCode: Int64?, enhancedStatus: String?, mtaResponse: String?, description: String?, campaign: String?
        var clickURL: String?, userAgent: String?, ip: String?, isFirst: Bool?, isMachineOpen: Bool?, estimated: Bool?
        var machineFlag: String?

        try r.expect(UInt8(ascii: "{"))
        if !r.consume(UInt8(ascii: "}")) {
            repeat {
                let key = try r.string()
                try r.expect(UInt8(ascii: ":"))
                switch key {
                case "provider": provider = try r.enumeration(Provider.self)
                case "source": source = try r.string()
                case "type": type = try r.enumeration(EventType.self)
                case "espEvent": espEvent = try r.string()
                case "eventKey": eventKey = try r.string()
                case "occurredAt": occurredAt = try r.integer()
                case "occurredAtEstimated": estimated = try r.optionalBool()
                case "receivedAt": receivedAt = try r.integer()
                case "tags": tags = try r.stringArray()
                case "metadata": metadata = try r.stringMap()
                case "raw": raw = try r.emptyArray()
                case "deliveryId": deliveryId = try r.optionalString()
                case "messageId": messageId = try r.optionalString()
                case "rfcMessageId": rfcMessageId = try r.optionalString()
                case "recipient": recipient = try r.optionalString()
                case "recipientDomain": recipientDomain = try r.optionalString()
                case "sender": sender = try r.optionalString()
                case "senderDomain": senderDomain = try r.optionalString()
                case "bounceClass": bounceClass = try r.optional { r throws(Unexpected) in try r.enumeration(BounceClass.self) }
                case "rejectReason": rejectReason = try r.optional { r throws(Unexpected) in try r.enumeration(RejectReason.self) }
                case "smtpCode": smtpCode = try r.optional { r throws(Unexpected) in try r.integer() }
                case "enhancedStatus": enhancedStatus = try r.optionalString()
                case "mtaResponse": mtaResponse = try r.optionalString()
                case "description": description = try r.optionalString()
                case "campaign": campaign = try r.optionalString()
                case "clickURL": clickURL = try r.optionalString()
                case "userAgent": userAgent = try r.optionalString()
                case "ip": ip = try r.optionalString()
                case "isFirst": isFirst = try r.optionalBool()
                case "isMachineOpen": isMachineOpen = try r.optionalBool()
                case "machineFlag": machineFlag = try r.optionalString()
                default: throw Unexpected()
                }
            } while r.consume(UInt8(ascii: ","))
            try r.expect(UInt8(ascii: "}"))
        }
        r.skipWhitespace()
        guard r.i == r.bytes.count, let provider, let source, let type, let espEvent, let eventKey, let occurredAt,
            let receivedAt, let tags, let metadata, raw
        else { throw Unexpected() }

        var event = EmailEvent(
            provider: provider, source: source, type: type, espEvent: espEvent, eventKey: eventKey,
            occurredAt: Date(unixMicroseconds: occurredAt), receivedAt: Date(unixMicroseconds: receivedAt), raw: [])
        event.occurredAtEstimated = estimated
        event.deliveryId = deliveryId
        event.messageId = messageId
        event.rfcMessageId = rfcMessageId
        event.setDecodedAddresses(
            recipient: recipient, recipientDomain: recipientDomain, sender: sender, senderDomain: senderDomain)
        event.bounceClass = bounceClass
        event.rejectReason = rejectReason
        if let smtpCode { guard let code = Int(exactly: smtpCode) else { throw Unexpected() }; event.smtpCode = code }
        event.enhancedStatus = enhancedStatus
        event.mtaResponse = mtaResponse
        event.description = description
        event.tags = tags
        event.metadata = metadata
        event.campaign = campaign
        event.clickURL = clickURL
        event.userAgent = userAgent
        event.ip = ip
        event.isFirst = isFirst
        event.isMachineOpen = isMachineOpen
        event.machineFlag = machineFlag
        return event
    }

    // MARK: Tokens

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        guard i < bytes.count, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    private mutating func expect(_ byte: UInt8) throws(Unexpected) {
        guard consume(byte) else { throw Unexpected() }
    }

    private mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { return false }
        for k in 0..<count where bytes[i + k] != word.utf8Start[k] { return false }
        i += count
        return true
    }

    /// `null`, or what `value` reads.
    private mutating func optional<T>(_ value: (inout Self) throws(Unexpected) -> T) throws(Unexpected) -> T? {
        skipWhitespace()
        if literal("null") { return nil }
        return try value(&self)
    }

    private mutating func optionalString() throws(Unexpected) -> String? {
        try optional { r throws(Unexpected) in try r.string() }
    }

    private mutating func optionalBool() throws(Unexpected) -> Bool? {
        try optional { r throws(Unexpected) in try r.bool() }
    }

    private mutating func bool() throws(Unexpected) -> Bool {
        skipWhitespace()
        if literal("true") { return true }
        if literal("false") { return false }
        throw Unexpected()
    }

    /// An integer without fraction or exponent, in Int64.
    private mutating func integer() throws(Unexpected) -> Int64 {
        skipWhitespace()
        let negative = consume(UInt8(ascii: "-"))
        let start = i
        var value: Int64 = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (times10, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times10.addingReportingOverflow(Int64(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw Unexpected() }
            value = sum
            i += 1
        }
        guard i > start, i == start + 1 || bytes[start] != UInt8(ascii: "0") else { throw Unexpected() }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") || bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            throw Unexpected()
        }
        return negative ? -value : value
    }

    private mutating func enumeration<T: RawRepresentable<String>>(_: T.Type) throws(Unexpected) -> T {
        guard let value = T(rawValue: try string()) else { throw Unexpected() }
        return value
    }

    private mutating func emptyArray() throws(Unexpected) -> Bool {
        try expect(UInt8(ascii: "["))
        try expect(UInt8(ascii: "]"))
        return true
    }

    private mutating func stringArray() throws(Unexpected) -> [String] {
        try expect(UInt8(ascii: "["))
        var result: [String] = []
        if consume(UInt8(ascii: "]")) { return result }
        repeat { result.append(try string()) } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "]"))
        return result
    }

    private mutating func stringMap() throws(Unexpected) -> [String: String] {
        try expect(UInt8(ascii: "{"))
        var result: [String: String] = [:]
        if consume(UInt8(ascii: "}")) { return result }
        repeat {
            let key = try string()
            try expect(UInt8(ascii: ":"))
            result[key] = try string()
        } while consume(UInt8(ascii: ","))
        try expect(UInt8(ascii: "}"))
        return result
    }

    /// A JSON string. Runs of plain bytes are copied as they are; escapes are decoded (a
    /// surrogate pair into one scalar); raw control characters and invalid UTF-8 are refused.
    private mutating func string() throws(Unexpected) -> String {
        try expect(UInt8(ascii: "\""))
        var decoded: [UInt8] = []
        var run = i
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                let text: String?
                if decoded.isEmpty {
                    text = String(validating: bytes[run..<i], as: UTF8.self)
                } else {
                    decoded.append(contentsOf: bytes[run..<i])
                    text = String(validating: decoded, as: UTF8.self)
                }
                i += 1
                guard let text else { throw Unexpected() }
                return text
            case UInt8(ascii: "\\"):
                decoded.append(contentsOf: bytes[run..<i])
                i += 1
                try escape(into: &decoded)
                run = i
            case 0..<0x20:
                throw Unexpected()
            default:
                i += 1
            }
        }
        throw Unexpected()
    }

    private mutating func escape(into decoded: inout [UInt8]) throws(Unexpected) {
        guard i < bytes.count else { throw Unexpected() }
        let byte = bytes[i]
        i += 1
        if let character = JSONEscape.character(byte) {
            decoded.append(character)
            return
        }
        guard byte == UInt8(ascii: "u") else { throw Unexpected() }
        let unit = try hex4()
        let scalar: Unicode.Scalar?
        if JSONEscape.isHighSurrogate(unit) {
            guard literal("\\u") else { throw Unexpected() }
            scalar = JSONEscape.scalar(high: unit, low: try hex4())
        } else {
            scalar = Unicode.Scalar(unit)
        }
        guard let scalar else { throw Unexpected() }
        decoded.append(contentsOf: UTF8.encode(scalar)!)
    }

    private mutating func hex4() throws(Unexpected) -> UInt32 {
        guard let value = JSONEscape.hex4(bytes, at: i) else { throw Unexpected() }
        i += 4
        return value
    }
}
