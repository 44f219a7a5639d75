/// The events of a body that holds either one JSON object or an array of them (Mailjet's
/// grouped events, Brevo's batched mode, SparkPost), each with its exact bytes.
enum EventObjects {
    static func parse(_ body: [UInt8]) throws(WebhookError) -> [(object: JSONObject, raw: [UInt8])] {
        let first = body.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
        let ranges: [Range<Int>]
        if first == UInt8(ascii: "[") {
            do {
                ranges = try JSONScanner.elements(of: body)
            } catch {
                throw WebhookError(.malformed, error.reason)
            }
        } else {
            ranges = [0..<body.count]
        }
        return try ranges.enumerated().map { index, range throws(WebhookError) in
            let raw = Array(body[range])
            guard let object = JSONObject.parse(raw) else {
                throw WebhookError(.malformed, ranges.count == 1 ? "body is not a JSON object" : "element \(index) is not a JSON object")
            }
            return (object, raw)
        }
    }
}
