/// Which mailbox provider a recipient's domain belongs to (Gmail, Outlook, Yahoo, …), by static
/// rules: no MX lookups, so a domain maps the same way everywhere and forever, and a rollup of
/// recipient domains can be grouped by provider when it is read (docs/ANALYTICS.md).
///
/// A pattern is a domain (`gmail.com`), a name under any country or generic suffix (`hotmail.*`:
/// `hotmail.com`, `hotmail.co.uk`, `hotmail.fr`), or a domain and its subdomains (`*.yahoo.co.jp`).
/// The first rule with a matching pattern names the provider; other domains are `other`, and an
/// event without a recipient domain has `''`.
public struct MailboxProviders: Sendable, Equatable {
    public struct Rule: Sendable, Equatable {
        public var provider: String
        public var patterns: [String]

        public init(provider: String, patterns: [String]) {
            self.provider = provider
            self.patterns = patterns
        }
    }

    /// A pattern or provider name outside the rules' alphabet.
    public struct Invalid: Error, CustomStringConvertible {
        public var text: String
        public var description: String {
            "not a mailbox provider pattern: \(text) (a domain, name.* or *.domain; letters, digits, - and .)"
        }
    }

    /// A pattern, parsed.
    public enum Pattern: Sendable, Equatable {
        case domain(String)
        case anySuffix(name: String)
        case subdomains(of: String)
    }

    public let rules: [(provider: String, patterns: [Pattern])]

    public static func == (a: MailboxProviders, b: MailboxProviders) -> Bool {
        a.rules.map(\.provider) == b.rules.map(\.provider) && a.rules.map(\.patterns) == b.rules.map(\.patterns)
    }

    public init(_ rules: [Rule] = Self.known) throws(Invalid) {
        var parsed: [(provider: String, patterns: [Pattern])] = []
        for rule in rules {
            guard Self.isName(rule.provider, dots: false), rule.provider != "other" else { throw Invalid(text: rule.provider) }
            var patterns: [Pattern] = []
            for text in rule.patterns { patterns.append(try Self.parse(text)) }
            parsed.append((rule.provider, patterns))
        }
        self.rules = parsed
    }

    static func parse(_ text: String) throws(Invalid) -> Pattern {
        let lowered = text.lowercased()
        if lowered.hasSuffix(".*") {
            let name = String(lowered.dropLast(2))
            guard isName(name, dots: false) else { throw Invalid(text: text) }
            return .anySuffix(name: name)
        }
        if lowered.hasPrefix("*.") {
            let base = String(lowered.dropFirst(2))
            guard isName(base, dots: true), base.contains(".") else { throw Invalid(text: text) }
            return .subdomains(of: base)
        }
        guard isName(lowered, dots: true), lowered.contains(".") else { throw Invalid(text: text) }
        return .domain(lowered)
    }

    /// Letters, digits and `-` (and `.` between labels): nothing a SQL literal or a regular
    /// expression would read as more than itself, but `.`.
    static func isName(_ text: String, dots: Bool) -> Bool {
        guard !text.isEmpty, text.utf8.count <= 253, !text.hasPrefix("."), !text.hasSuffix("."), !text.contains("..") else { return false }
        return text.utf8.allSatisfy { byte in
            (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39) || byte == 0x2D || (dots && byte == 0x2E) || byte == 0x5F
        }
    }

    /// The built-in rules (``known``), which are valid.
    public static let standard: MailboxProviders = {
        do { return try MailboxProviders() } catch { preconditionFailure("\(error)") }
    }()

    /// The big consumer mailbox providers, by the domains they receive for.
    public static let known: [Rule] = [
        Rule(provider: "gmail", patterns: ["gmail.com", "googlemail.com"]),
        Rule(provider: "outlook", patterns: ["outlook.*", "hotmail.*", "live.*", "msn.com", "windowslive.com", "passport.com"]),
        Rule(provider: "yahoo", patterns: ["yahoo.*", "ymail.com", "rocketmail.com", "aol.*", "aim.com", "*.yahoo.co.jp"]),
        Rule(provider: "apple", patterns: ["icloud.com", "me.com", "mac.com"]),
        Rule(provider: "gmx", patterns: ["gmx.*", "web.de"]),
        Rule(provider: "proton", patterns: ["proton.me", "protonmail.com", "protonmail.ch", "pm.me"]),
        Rule(provider: "yandex", patterns: ["yandex.*", "ya.ru"]),
        Rule(provider: "mailru", patterns: ["mail.ru", "inbox.ru", "list.ru", "bk.ru"]),
        Rule(provider: "zoho", patterns: ["zoho.com", "zohomail.com"]),
        Rule(provider: "comcast", patterns: ["comcast.net"]),
        Rule(provider: "orange", patterns: ["orange.fr", "wanadoo.fr"]),
        Rule(provider: "t-online", patterns: ["t-online.de"]),
        Rule(provider: "qq", patterns: ["qq.com", "foxmail.com"]),
        Rule(provider: "netease", patterns: ["163.com", "126.com", "yeah.net"]),
    ]
}
