import Foundation
import Testing

@testable import EmailEvents

@Suite struct EngagementRulesTests {
    static func event(_ type: EventType, agent: String? = nil, ip: String? = nil) -> EmailEvent {
        var event = EmailEvent(
            provider: .sendgrid, source: "default", type: type, espEvent: type.rawValue, eventKey: "k", occurredAt: nil,
            receivedAt: Date(timeIntervalSince1970: 1_700_000_000), raw: [])
        event.userAgent = agent
        event.ip = ip
        return event
    }

    static let rules = EngagementRules(
        userAgents: EngagementRules.knownUserAgents + [.init(name: "acme", substring: "AcmeScan/", appliesTo: [.clicked])],
        networks: [
            .init(name: "proxy", ranges: try! IPAllowlist(["198.51.100.0/24", "2001:db8::/32"]), appliesTo: [.opened]),
            .init(name: "gateway", ranges: try! IPAllowlist(["192.0.2.0/24"])),
        ])

    @Test func onlyOpensAndClicksGetAVerdict() {
        for type in EventType.allCases where type != .opened && type != .clicked {
            var event = Self.event(type, agent: "python-requests/2.31", ip: "192.0.2.1")
            #expect(Self.rules.verdict(for: event) == nil)
            Self.rules.classify(&event)
            #expect(event.isMachine == nil && event.engagementReason == nil)
        }
    }

    @Test func thePersonsVerdictNamesNoRule() {
        let agent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148"
        for type in [EventType.opened, .clicked] {
            #expect(Self.rules.verdict(for: Self.event(type, agent: agent, ip: "203.0.113.7")) == .human)
            #expect(Self.rules.verdict(for: Self.event(type)) == .human, "no user agent and no address: nothing says machine")
            #expect(Self.rules.verdict(for: Self.event(type, agent: "", ip: "")) == .human)
            #expect(Self.rules.verdict(for: Self.event(type, ip: "not an address")) == .human)
        }
    }

    @Test func userAgentsMatchWithoutCaseAndOnlyForTheirEvents() {
        #expect(
            Self.rules.verdict(for: Self.event(.opened, agent: "… (via ggpht.com GOOGLEIMAGEPROXY)"))?.reason
                == "user_agent:google_image_proxy")
        // The image proxies fetch pixels; a click through one is a person's.
        #expect(Self.rules.verdict(for: Self.event(.clicked, agent: "… (via ggpht.com GoogleImageProxy)")) == .human)
        #expect(Self.rules.verdict(for: Self.event(.clicked, agent: "x AcmeScan/2 y"))?.reason == "user_agent:acme")
        #expect(Self.rules.verdict(for: Self.event(.opened, agent: "x AcmeScan/2 y")) == .human)
        #expect(Self.rules.verdict(for: Self.event(.clicked, agent: "curl/8.5.0"))?.reason == "user_agent:http_library")
        #expect(
            Self.rules.verdict(for: Self.event(.opened, agent: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)"))?
                .isMachine == true)
    }

    @Test func applesBareUserAgentIsMatchedWholeNotAsAPrefix() {
        #expect(Self.rules.verdict(for: Self.event(.opened, agent: " Mozilla/5.0 "))?.reason == "user_agent:apple_mail_privacy_protection")
        #expect(Self.rules.verdict(for: Self.event(.opened, agent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)")) == .human)
        #expect(Self.rules.verdict(for: Self.event(.clicked, agent: "Mozilla/5.0")) == .human)
    }

    @Test func networksMatchIPv4IPv6AndMappedAddressesForTheirEvents() {
        #expect(Self.rules.verdict(for: Self.event(.opened, ip: "198.51.100.200"))?.reason == "network:proxy")
        #expect(Self.rules.verdict(for: Self.event(.opened, ip: "2001:db8::1"))?.reason == "network:proxy")
        #expect(Self.rules.verdict(for: Self.event(.opened, ip: "::ffff:198.51.100.9"))?.reason == "network:proxy")
        #expect(Self.rules.verdict(for: Self.event(.clicked, ip: "198.51.100.200")) == .human, "the proxy network is for opens")
        #expect(Self.rules.verdict(for: Self.event(.clicked, ip: "192.0.2.77"))?.reason == "network:gateway")
        #expect(Self.rules.verdict(for: Self.event(.opened, ip: "192.0.3.1")) == .human)
    }

    @Test func theESPsFlagComesFirst() {
        var event = Self.event(.opened, agent: "GoogleImageProxy", ip: "198.51.100.1")
        event.machineFlag = "client-info.bot=gmail"
        #expect(Self.rules.verdict(for: event)?.reason == "esp:client-info.bot=gmail")
        event.machineFlag = nil
        event.isMachineOpen = true
        #expect(Self.rules.verdict(for: event)?.reason == "esp:is_machine_open")
        event.isMachineOpen = false
        #expect(
            Self.rules.verdict(for: event)?.reason == "user_agent:google_image_proxy", "the ESP saying person does not overrule a proxy")
    }

    @Test func aStoredVerdictIsTheWorkersOrElseTheESPsFlag() {
        var event = Self.event(.opened, agent: "GoogleImageProxy")
        #expect(EngagementRules.storedVerdict(of: event) == .human, "no worker rules: only the ESP's flag counts")
        event.isMachineOpen = true
        #expect(EngagementRules.storedVerdict(of: event) == .machine("esp:is_machine_open"))
        Self.rules.classify(&event)
        #expect(EngagementRules.storedVerdict(of: event) == .machine("esp:is_machine_open"))
        event.isMachine = false
        event.engagementReason = nil
        #expect(EngagementRules.storedVerdict(of: event) == .human)
        #expect(EngagementRules.storedVerdict(of: Self.event(.delivered)) == nil)
    }

    @Test func droppingClientDetailsKeepsTheVerdict() {
        var event = Self.event(.clicked, agent: "python-requests/2.31", ip: "192.0.2.1")
        EngagementRules(dropClientDetails: true).classify(&event)
        #expect(event.isMachine == true && event.engagementReason == "user_agent:http_library")
        #expect(event.userAgent == nil && event.ip == nil)
        var delivered = Self.event(.delivered, agent: "x", ip: "192.0.2.1")
        EngagementRules(dropClientDetails: true).classify(&delivered)
        #expect(delivered.userAgent == nil && delivered.ip == nil)
    }

    /// A user agent of a megabyte is judged, not choked on.
    @Test func aHugeUserAgentIsJudged() {
        let huge = String(repeating: "a", count: 1 << 20) + "GoogleImageProxy"
        #expect(Self.rules.verdict(for: Self.event(.opened, agent: huge))?.reason == "user_agent:google_image_proxy")
    }
}
