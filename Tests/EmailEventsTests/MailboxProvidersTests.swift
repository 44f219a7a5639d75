import Testing

@testable import EmailEvents

@Suite struct MailboxProvidersTests {
    @Test func theBuiltInRulesAreValid() throws {
        #expect(MailboxProviders.standard.rules.map(\.provider).first == "gmail")
        #expect(try MailboxProviders().rules.count == MailboxProviders.known.count)
    }

    @Test func patternsParse() throws {
        #expect(try MailboxProviders.parse("GMail.com") == .domain("gmail.com"))
        #expect(try MailboxProviders.parse("hotmail.*") == .anySuffix(name: "hotmail"))
        #expect(try MailboxProviders.parse("*.yahoo.co.jp") == .subdomains(of: "yahoo.co.jp"))
    }

    /// Nothing that would read as more than a domain in SQL or a regular expression gets in.
    @Test(arguments: [
        "", "*", "*.*", "*.com", "gmail", "a..b", ".gmail.com", "gmail.com.", "x.*.y", "gm ail.com", "gmail.com'; DROP TABLE x; --",
        "g(m)ail.com", "gmail.co$", "hot|mail.*", "ünï.com", String(repeating: "a", count: 300) + ".com",
    ])
    func aBadPatternIsRefused(_ pattern: String) {
        #expect(throws: MailboxProviders.Invalid.self) { try MailboxProviders([.init(provider: "p", patterns: [pattern])]) }
    }

    @Test(arguments: ["", "other", "Gmail Inc", "a'b", "mail.ru"])
    func aBadProviderNameIsRefused(_ name: String) {
        #expect(throws: MailboxProviders.Invalid.self) { try MailboxProviders([.init(provider: name, patterns: ["x.com"])]) }
    }
}
