/// Whether an open or a click was a person's or a machine's, and why (docs/ANALYTICS.md,
/// "Human and machine engagement").
///
/// Image proxies fetch the tracking pixel without anyone reading (Apple Mail Privacy Protection
/// loads every image when the mail arrives, Gmail and Yahoo fetch through their proxies), and
/// security gateways follow every link before a person sees the mail. Counting those as people
/// inflates open and click rates; the rules here tell them apart, each verdict with the rule that
/// decided it. The first rule that matches wins, in this order: the ESP's own flag, a known
/// proxy's or scanner's user agent, an address in a configured network. (The click timing rules
/// need the message's other events, so the store applies them: EventStore+ClickTiming.)
public struct EngagementRules: Sendable, Equatable {
    /// A user agent that only a machine sends, recognised by a case-insensitive substring, or
    /// the whole user agent when `exact`.
    public struct UserAgentRule: Sendable, Equatable {
        public var name: String
        public var substring: String
        public var exact: Bool
        public var appliesTo: Set<EventType>

        public init(name: String, substring: String, exact: Bool = false, appliesTo: Set<EventType> = [.opened, .clicked]) {
            self.name = name
            self.substring = substring
            self.exact = exact
            self.appliesTo = appliesTo
        }

        func matches(_ lowercasedAgent: String) -> Bool {
            exact ? lowercasedAgent == substring : lowercasedAgent.contains(substring)
        }
    }

    /// Addresses a machine reads from (a proxy's or a scanner's published ranges).
    public struct NetworkRule: Sendable, Equatable {
        public var name: String
        public var ranges: IPAllowlist
        public var appliesTo: Set<EventType>

        public init(name: String, ranges: IPAllowlist, appliesTo: Set<EventType> = [.opened, .clicked]) {
            self.name = name
            self.ranges = ranges
            self.appliesTo = appliesTo
        }
    }

    public var userAgents: [UserAgentRule]
    public var networks: [NetworkRule]
    /// After the verdict, the event's user agent and address are dropped (privacy): the
    /// `user_agent` and `ip` columns stay empty.
    public var dropClientDetails: Bool

    public init(userAgents: [UserAgentRule] = Self.knownUserAgents, networks: [NetworkRule] = [], dropClientDetails: Bool = false) {
        self.userAgents = userAgents.map { rule in
            var rule = rule
            rule.substring = rule.substring.lowercased()
            return rule
        }
        self.networks = networks
        self.dropClientDetails = dropClientDetails
    }

    /// Machines known by their user agent (docs/ANALYTICS.md lists them with their sources).
    /// Apple's proxy sends a bare `Mozilla/5.0` and nothing else, which no browser does; its
    /// addresses can be configured too (`analytics.machineNetworks`). Link scanners that send an
    /// ordinary browser's user agent (Microsoft's Safe Links) are not recognised here.
    public static let knownUserAgents: [UserAgentRule] = [
        UserAgentRule(name: "apple_mail_privacy_protection", substring: "Mozilla/5.0", exact: true, appliesTo: [.opened]),
        UserAgentRule(name: "google_image_proxy", substring: "GoogleImageProxy", appliesTo: [.opened]),
        UserAgentRule(name: "yahoo_mail_proxy", substring: "YahooMailProxy", appliesTo: [.opened]),
        UserAgentRule(name: "barracuda", substring: "Barracuda"),
        UserAgentRule(name: "mimecast", substring: "Mimecast"),
        UserAgentRule(name: "proofpoint", substring: "Proofpoint"),
        UserAgentRule(name: "headless_browser", substring: "HeadlessChrome"),
        UserAgentRule(name: "http_library", substring: "python-requests/"),
        UserAgentRule(name: "http_library", substring: "Go-http-client/"),
        UserAgentRule(name: "http_library", substring: "curl/"),
        UserAgentRule(name: "http_library", substring: "Wget/"),
        UserAgentRule(name: "crawler", substring: "bot/"),
        UserAgentRule(name: "crawler", substring: "+http"),
    ]

    /// The verdict for one open or click; nil for every other event.
    public func verdict(for event: EmailEvent) -> EngagementVerdict? {
        guard event.type == .opened || event.type == .clicked else { return nil }
        if let flag = event.machineFlag ?? (event.isMachineOpen == true ? "is_machine_open" : nil) { return .machine("esp:\(flag)") }
        if let agent = event.userAgent?.trimmed.lowercased(), !agent.isEmpty {
            for rule in userAgents where rule.appliesTo.contains(event.type) && rule.matches(agent) {
                return .machine("user_agent:\(rule.name)")
            }
        }
        if let ip = event.ip, !ip.isEmpty {
            for rule in networks where rule.appliesTo.contains(event.type) && rule.ranges.contains(ip) {
                return .machine("network:\(rule.name)")
            }
        }
        return .human
    }

    /// Only the ESPs' own flags: the verdict an event has that no worker classified.
    public static let espFlagsOnly = EngagementRules(userAgents: [], networks: [])

    /// The event's own verdict if it has one, else the ESPs' flags' (``espFlagsOnly``).
    public static func storedVerdict(of event: EmailEvent) -> EngagementVerdict? {
        if let isMachine = event.isMachine {
            return EngagementVerdict(
                isMachine: isMachine, reason: event.engagementReason ?? (isMachine ? "unknown" : EngagementVerdict.human.reason))
        }
        return espFlagsOnly.verdict(for: event)
    }

    /// Sets the event's verdict, then drops its client details if asked to.
    public func classify(_ event: inout EmailEvent) {
        if let verdict = verdict(for: event) {
            event.isMachine = verdict.isMachine
            event.engagementReason = verdict.reason
        }
        if dropClientDetails {
            event.userAgent = nil
            event.ip = nil
        }
    }
}

/// A person's or a machine's open or click, with the rule that said so.
public struct EngagementVerdict: Sendable, Equatable {
    public var isMachine: Bool
    /// `esp:<field>`, `user_agent:<rule>`, `network:<rule>`, or `no_machine_signal`.
    public var reason: String

    public static func machine(_ reason: String) -> EngagementVerdict { EngagementVerdict(isMachine: true, reason: reason) }
    public static let human = EngagementVerdict(isMachine: false, reason: "no_machine_signal")
}
