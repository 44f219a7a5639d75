import EmailEvents

/// `multipart/form-data` (RFC 7578) → the text fields, in order, percent-decoding nothing. File
/// parts (Mailgun's legacy bounce posts attach the bounced message as `attachment-1`) are skipped:
/// they carry no event data. Nil when the body is not a multipart body with that boundary.
enum MultipartForm {
    /// The `boundary` parameter of a `multipart/form-data` content type.
    static func boundary(ofContentType contentType: String) -> String? {
        let parts = contentType.split(separator: ";").map { $0.trimmed }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for part in parts.dropFirst() where part.lowercased().hasPrefix("boundary=") {
            var value = part.dropFirst("boundary=".count)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = value.dropFirst().dropLast() }
            // RFC 2046: 1 to 70 characters (which also bounds the cost of finding it).
            return value.isEmpty || value.count > 70 ? nil : String(value)
        }
        return nil
    }

    static func parse(_ body: [UInt8], boundary: String) -> [(String, String)]? {
        let delimiter = Array("--\(boundary)".utf8)
        guard var start = firstIndex(of: delimiter, in: body, from: 0) else { return nil }
        var fields: [(String, String)] = []
        while true {
            start += delimiter.count
            // "--" after a delimiter closes the body.
            if start + 1 < body.count, body[start] == UInt8(ascii: "-"), body[start + 1] == UInt8(ascii: "-") { return fields }
            guard start + 1 < body.count, body[start] == 0x0D, body[start + 1] == 0x0A else { return nil }
            let partStart = start + 2
            guard let next = firstIndex(of: [0x0D, 0x0A] + delimiter, in: body, from: partStart) else { return nil }
            if let field = field(Array(body[partStart..<next])) { fields.append(field) }
            start = next + 2
        }
    }

    /// One part: headers, a blank line, the content. Nil for a file part or one without a name.
    private static func field(_ part: [UInt8]) -> (String, String)? {
        guard let blank = firstIndex(of: [0x0D, 0x0A, 0x0D, 0x0A], in: part, from: 0) else { return nil }
        let headers = String(decoding: part[..<blank], as: UTF8.self)
        guard
            let disposition = headers.split(separator: "\r\n").first(where: {
                $0.lowercased().hasPrefix("content-disposition:")
            })
        else { return nil }
        var name: String?
        for parameter in disposition.split(separator: ";").dropFirst().map({ $0.trimmed }) {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let value =
                pair[1].hasPrefix("\"") && pair[1].hasSuffix("\"") && pair[1].count >= 2
                ? String(pair[1].dropFirst().dropLast()) : String(pair[1])
            switch pair[0].lowercased() {
            case "name": name = value
            case "filename": return nil
            default: break
            }
        }
        guard let name else { return nil }
        return (name, String(decoding: part[(blank + 4)...], as: UTF8.self))
    }

    private static func firstIndex(of needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, from <= haystack.count - needle.count else { return nil }
        var i = from
        let last = haystack.count - needle.count
        while i <= last {
            if haystack[i] == needle[0] {
                var j = 1
                while j < needle.count, haystack[i + j] == needle[j] { j += 1 }
                if j == needle.count { return i }
            }
            i += 1
        }
        return nil
    }
}
