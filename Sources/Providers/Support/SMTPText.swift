import EmailEvents
import Foundation

enum SMTPText {
    /// The reply code of an SMTP diagnostic as ESPs write it: `550 5.1.1 …`, `smtp;550 …`
    /// (DSN Diagnostic-Code style), `sent (250 2.0.0 OK …)` (Mailjet).
    static func code(in text: String) -> Int? {
        var rest = Substring(text.trimmed)
        for prefix in ["smtp;", "sent ("] where rest.lowercased().hasPrefix(prefix) {
            rest = rest.dropFirst(prefix.count).drop { $0 == " " }
        }
        return leadingCode(String(rest))
    }

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
