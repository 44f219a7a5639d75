import EmailEvents
import EventStore
import Foundation
import PostwireConfig
import Testing

@testable import WorkerApp

/// `analytics.knownMachineUserAgents`, `machineUserAgents`, `machineNetworks` and
/// `dropClientDetails` as an operator writes them, and the mistakes refused at start.
@Suite struct EngagementSettingsTests {
    @Test func theEnvironmentsJSONBecomesRules() throws {
        let configuration = try ConfigurationLoader.load(environment: [
            "POSTWIRE_ANALYTICS_MACHINE_NETWORKS": #"[{"name": "apple_mpp", "ranges": ["17.0.0.0/8"], "events": ["opened"]}]"#,
            "POSTWIRE_ANALYTICS_MACHINE_USER_AGENTS": #"[{"name": "acme", "contains": "AcmeScan/"}]"#,
            "POSTWIRE_ANALYTICS_DROP_CLIENT_DETAILS": "true",
        ])
        let rules = try configuration.analytics.engagementRules()
        #expect(rules.dropClientDetails)
        #expect(rules.networks.map(\.name) == ["apple_mpp"] && rules.networks[0].appliesTo == [.opened])
        #expect(rules.userAgents.count == EngagementRules.knownUserAgents.count + 1)
        #expect(rules.userAgents.last?.appliesTo == [.opened, .clicked], "both events when none are named")
        var open = EmailEvent(
            provider: .mailgun, source: "default", type: .opened, espEvent: "opened", eventKey: "k", occurredAt: nil,
            receivedAt: .now, raw: [])
        open.ip = "17.58.1.2"
        #expect(rules.verdict(for: open)?.reason == "network:apple_mpp")
    }

    @Test func theBuiltInListCanBeTurnedOff() throws {
        var settings = AnalyticsSettings()
        settings.knownMachineUserAgents = false
        #expect(try settings.engagementRules().userAgents.isEmpty)
        #expect(try AnalyticsSettings().engagementRules().userAgents.map(\.name) == EngagementRules.knownUserAgents.map(\.name))
    }

    @Test(arguments: [
        (MachineNetwork(name: "x", ranges: ["17.0.0.0/33"]), "17.0.0.0/33"),
        (MachineNetwork(name: "x", ranges: ["not-an-ip"]), "not-an-ip"),
        (MachineNetwork(name: "", ranges: ["17.0.0.0/8"]), "name"),
        (MachineNetwork(name: "x", ranges: []), "ranges"),
        (MachineNetwork(name: "x", ranges: ["17.0.0.0/8"], events: ["delivered"]), "delivered"),
        (MachineNetwork(name: "x", ranges: ["17.0.0.0/8"], events: []), "empty"),
    ])
    func aBadNetworkIsRefused(_ network: MachineNetwork, _ mention: String) {
        var settings = AnalyticsSettings()
        settings.machineNetworks = [network]
        #expect {
            _ = try settings.engagementRules()
        } throws: { error in
            "\(error)".contains(mention) && "\(error)".contains("analytics.machineNetworks")
        }
    }

    @Test func aBadUserAgentIsRefused() {
        for agent in [
            MachineUserAgent(name: "x", contains: ""), MachineUserAgent(name: "", contains: "x"),
            MachineUserAgent(name: "x", contains: "y", events: ["bounced"]),
        ] {
            var settings = AnalyticsSettings()
            settings.machineUserAgents = [agent]
            #expect(throws: ConfigurationError.self) { try settings.engagementRules() }
        }
    }

    @Test func theClickTimingSettingsReachThePolicyAndOutOfRangeIsRefused() throws {
        var settings = AnalyticsSettings()
        settings.scannerClickSeconds = 0.5
        settings.clickBurstCount = 5
        settings.clickBurstSeconds = 2
        let policy = try settings.policy()
        #expect(policy.scannerClickSeconds == 0.5 && policy.clickBurstCount == 5 && policy.clickBurstSeconds == 2)
        for (seconds, count, burst) in [(-1.0, 3, 1.0), (2, -1, 1), (2, 3, -0.5), (90_000, 3, 1), (2, 5000, 1), (2, 3, 7200)] {
            var bad = AnalyticsSettings()
            (bad.scannerClickSeconds, bad.clickBurstCount, bad.clickBurstSeconds) = (seconds, count, burst)
            #expect(throws: ConfigurationError.self, "\((seconds, count, burst))") { try bad.policy() }
        }
        var off = AnalyticsSettings()
        (off.scannerClickSeconds, off.clickBurstCount) = (0, 0)
        #expect(try off.policy().scannerClickSeconds == 0)
    }

    @Test func anEntryWithoutItsRangesIsRefused() {
        #expect(throws: ConfigurationError.self) {
            try ConfigurationLoader.load(environment: [
                "POSTWIRE_ANALYTICS_MACHINE_NETWORKS": #"[{"name": "x", "cidrs": ["17.0.0.0/8"]}]"#
            ])
        }
    }
}
