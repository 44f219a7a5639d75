enum SMTPText {
    /// `"550 5.1.1 The email account … does not exist"` → 550; `nil` unless the text starts
    /// with a reply code.
    static func leadingCode(_ text: String) -> Int? {
        let digits = text.prefix(3)
        guard digits.count == 3, let code = Int(digits), (200...599).contains(code) else { return nil }
        let rest = text.dropFirst(3)
        guard rest.isEmpty || rest.first == " " || rest.first == "-" else { return nil }
        return code
    }
}
