import Testing

@testable import EmailEvents

@Suite struct IPAllowlistTests {
    @Test func matchesIPv4AndIPv6Ranges() throws {
        let list = try IPAllowlist(["192.0.2.0/24", "198.51.100.7", "2001:db8::/32", "10.0.0.0/8"])
        #expect(list.contains("192.0.2.1"))
        #expect(list.contains("192.0.2.255"))
        #expect(!list.contains("192.0.3.1"))
        #expect(list.contains("198.51.100.7"))
        #expect(!list.contains("198.51.100.8"))
        #expect(list.contains("10.200.1.1"))
        #expect(list.contains("2001:db8:1::5"))
        #expect(!list.contains("2001:db9::1"))
        #expect(list.contains("::ffff:192.0.2.9"))  // IPv4-mapped
        #expect(!list.contains("not-an-ip"))
        #expect(try IPAllowlist(["0.0.0.0/0"]).contains("203.0.113.1"))
        #expect(!IPAllowlist.none.contains("127.0.0.1"))
    }

    @Test(arguments: ["10.0.0.0/33", "300.1.1.1", "2001:db8::/129", "10.0.0.0/x", ""])
    func refusesInvalidRanges(_ text: String) {
        #expect(throws: IPAllowlist.Invalid.self) { try IPAllowlist([text]) }
    }

    @Test func forwardedForIsBelievedOnlyFromTrustedProxies() throws {
        let proxies = try IPAllowlist(["10.0.0.0/8"])
        // From a trusted proxy: the right-most hop that is not itself a proxy.
        #expect(
            IPAllowlist.clientAddress(peer: "10.0.0.2", forwardedFor: "203.0.113.9, 10.0.0.7", trustedProxies: proxies) == "203.0.113.9")
        // A client prepending a fake address cannot hide behind it.
        #expect(
            IPAllowlist.clientAddress(peer: "10.0.0.2", forwardedFor: "192.0.2.1, 198.51.100.4", trustedProxies: proxies) == "198.51.100.4")
        // From anyone else the header is ignored.
        #expect(IPAllowlist.clientAddress(peer: "198.51.100.4", forwardedFor: "192.0.2.1", trustedProxies: proxies) == "198.51.100.4")
        #expect(IPAllowlist.clientAddress(peer: "10.0.0.2", forwardedFor: nil, trustedProxies: proxies) == "10.0.0.2")
    }
}
