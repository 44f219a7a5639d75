import EmailEvents

/// The elements of a body that holds either one JSON object or an array of them (Mailjet's
/// grouped events, Brevo's batched mode, SparkPost, SendGrid, Mandrill's `mandrill_events`), each
/// with its exact bytes. Only a body that is not JSON at all throws: an element that is not an
/// object comes back without one, for its normalizer to set aside alone.
enum EventObjects {
    struct Element {
        var index: Int
        var raw: [UInt8]
        var object: JSONObject?

        /// A body of the same shape holding only this element, for the quarantine.
        func body(isArray: Bool) -> [UInt8] {
            isArray ? [UInt8(ascii: "[")] + raw + [UInt8(ascii: "]")] : raw
        }
    }

    static func parse(_ body: [UInt8], arraysOnly: Bool = false) throws(WebhookError) -> (elements: [Element], isArray: Bool) {
        let first = body.first { ![0x20, 0x09, 0x0a, 0x0d].contains($0) }
        guard first == UInt8(ascii: "[") || !arraysOnly else { throw WebhookError(.malformed, "body is not a JSON array") }
        guard first == UInt8(ascii: "[") else {
            guard let object = JSONObject.parse(body) else { throw WebhookError(.malformed, "body is not a JSON object") }
            return ([Element(index: 0, raw: body, object: object)], false)
        }
        let ranges: [Range<Int>]
        do {
            ranges = try JSONScanner.elements(of: body)
        } catch {
            throw WebhookError(.malformed, error.reason)
        }
        return (
            ranges.enumerated().map { index, range in
                let raw = Array(body[range])
                return Element(index: index, raw: raw, object: JSONObject.parse(raw))
            }, true
        )
    }

    /// Normalizes every element with `normalize`, setting aside each one that fails (or is not an
    /// object) with its index; a body that is not JSON is set aside whole.
    static func normalizeEach(
        _ body: [UInt8], arraysOnly: Bool = false, wrap: ([UInt8]) -> [UInt8] = { $0 },
        _ normalize: (JSONObject, [UInt8]) throws(WebhookError) -> [EmailEvent]
    ) -> ElementNormalizer {
        var normalizer = ElementNormalizer()
        let parsed: (elements: [Element], isArray: Bool)
        do {
            parsed = try parse(body, arraysOnly: arraysOnly)
        } catch {
            normalizer.rejected.append(RejectedElement(index: nil, reason: error.message, body: wrap(body)))
            return normalizer
        }
        for element in parsed.elements {
            normalizer.add(index: parsed.isArray ? element.index : nil, body: wrap(element.body(isArray: parsed.isArray))) {
                () throws(WebhookError) -> [EmailEvent] in
                guard let object = element.object else {
                    throw WebhookError(
                        .malformed, parsed.isArray ? "element \(element.index) is not a JSON object" : "body is not a JSON object")
                }
                return try normalize(object, element.raw)
            }
        }
        return normalizer
    }
}
