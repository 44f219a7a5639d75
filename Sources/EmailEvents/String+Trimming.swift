extension Substring {
    /// The text without leading and trailing white space and line breaks (the set
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` uses), in pure Swift: on Linux
    /// Foundation's version goes through NSString, which costs more than the rest of a field's
    /// parsing (docs/PERFORMANCE.md, ingress).
    public var trimmed: String { hasNothingToTrim ? String(self) : trimmedSlowly }

    /// Most text has nothing to trim: printable ASCII at both ends settles it without a scan.
    var hasNothingToTrim: Bool {
        guard let first = utf8.first, let last = utf8.last else { return false }
        return (0x21..<0x80).contains(first) && (0x21..<0x80).contains(last)
    }

    private var trimmedSlowly: String {
        let scalars = unicodeScalars
        // Foundation's set is White_Space plus U+200B ZERO WIDTH SPACE (checked over all scalars).
        let kept = { (scalar: Unicode.Scalar) in !scalar.properties.isWhitespace && scalar != "\u{200B}" }
        guard let first = scalars.firstIndex(where: kept), let last = scalars.lastIndex(where: kept)
        else { return "" }
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[first...last])
        return String(result)
    }
}

extension String {
    /// See ``Substring/trimmed``; text with nothing to trim comes back as it is, uncopied.
    public var trimmed: String { self[...].hasNothingToTrim ? self : self[...].trimmed }
}
