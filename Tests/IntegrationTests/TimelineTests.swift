import EmailEvents
import EventStore
import Foundation
import PostwireConfig
import Testing
import WorkerApp

/// `postwire_mailbox_provider` in real PostgreSQL, and `postwire timeline` against a generated month.
@Suite struct TimelineTests {
    @Test func mailboxProvidersAreReadByPostgreSQLAsWritten() async throws {
        try await TestEnvironment.withDatabase { _, store in
            let domains = [
                "gmail.com", "GoogleMail.com", "hotmail.co.uk", "outlook.de", "live.com", "msn.com", "yahoo.co.jp", "mail.yahoo.co.jp",
                "aol.com", "icloud.com", "me.com", "gmx.net", "web.de", "t-online.de", "163.com", "example.com", "",
                "hotmail.evil.example.com",
                "notgmail.com", "gmail.com.evil.test", "yahoo.com",
            ]
            let expected = [
                "gmail", "gmail", "outlook", "outlook", "outlook", "outlook", "yahoo", "yahoo", "yahoo", "apple", "apple", "gmx", "gmx",
                "t-online", "netease", "other", "", "other", "other", "other", "yahoo",
            ]
            #expect(try await store.mailboxProvider(of: domains) == expected, "the migration's built-in rules")
            // An operator's rules come first; installing the same twice changes nothing.
            var settings = AnalyticsSettings()
            settings.mailboxProviders = [MailboxProviderSetting(provider: "acme", domains: ["acme.test", "*.acme.test", "gmail.com"])]
            let providers = try settings.policy().mailboxProviders
            try await store.installMailboxProviders(providers)
            try await store.installMailboxProviders(providers)
            #expect(
                try await store.mailboxProvider(of: ["acme.test", "eu.acme.test", "gmail.com", "googlemail.com", "xacme.test"])
                    == ["acme", "acme", "acme", "gmail", "other"])
            settings.knownMailboxProviders = false
            try await store.installMailboxProviders(try settings.policy().mailboxProviders)
            #expect(try await store.mailboxProvider(of: ["acme.test", "googlemail.com"]) == ["acme", "other"])
            settings.mailboxProviders = [MailboxProviderSetting(provider: "x", domains: ["bad'domain"])]
            #expect(throws: ConfigurationError.self) { try settings.policy() }
        }
    }

    @Test func aMessagesLifeAndAnAddressesHistory() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let month = MonthOfEvents(messages: 400, seed: 5)
            var analytics = AnalyticsSettings()
            MonthOfEvents.configure(&analytics)
            let rules = try analytics.engagementRules()
            try await store.installMailboxProviders(try analytics.policy().mailboxProviders)
            var events = month.deliveries(seed: 9)
            for index in events.indices { rules.classify(&events[index]) }
            for start in stride(from: 0, to: events.count, by: 500) {
                _ = try await store.write(Array(events[start..<min(start + 500, events.count)]))
            }

            // A message with a bounce, one with opens and clicks: every event in order, the state.
            let bounced = try #require(month.messages.first { $0.events.contains { $0.type == .bounced } })
            let engaged = try #require(month.messages.first { m in m.events.contains { $0.type == .clicked } && m.events.count >= 4 })
            try await Self.checkMessage(bounced, month, database: database)
            try await Self.checkMessage(engaged, month, database: database)
            try await Self.checkAddress(month, database: database)

            // Nothing known: said so, and the exit code tells a script.
            let unknown = try await TestEnvironment.cli(["timeline", "nobody@nowhere.test"], database: database)
            #expect(unknown.code == 1 && unknown.output.contains("nothing stored for nobody@nowhere.test"))
            let limited = try await TestEnvironment.cli(["timeline", engaged.id, "--limit", "2", "--format", "json"], database: database)
            let cut = try #require(try JSONSerialization.jsonObject(with: Data(limited.output.utf8)) as? [String: Any])
            #expect((cut["events"] as? [Any])?.count == 2 && cut["truncated"] as? Bool == true)
            print("timeline: message \(engaged.id) with \(engaged.events.count) events")
        }
    }

    static func checkMessage(_ message: MonthOfEvents.Message, _ month: MonthOfEvents, database: String) async throws {
        let result = try await TestEnvironment.cli(["timeline", message.id, "--format", "json"], database: database)
        #expect(result.code == 0, "\(result.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(json["kind"] as? String == "message")
        let rows = try #require(json["messages"] as? [[String: Any]])
        let ordered = message.events.sorted { ($0.occurredAt, $0.eventKey) < ($1.occurredAt, $1.eventKey) }
        #expect(rows.count == 1 && rows[0]["state"] as? String == ordered.last?.type.rawValue)
        let domain = message.recipient.lowercased().split(separator: "@").last.map(String.init) ?? ""
        #expect(rows[0]["mailbox_provider"] as? String == MonthOfEvents.mailboxProviders[domain])
        let shown = try #require(json["events"] as? [[String: Any]])
        #expect(shown.map { $0["event_key"] as? String } == ordered.map(\.eventKey))
        #expect(shown.map { $0["type"] as? String } == ordered.map(\.type.rawValue))
        for (row, event) in zip(shown, ordered) where event.type == .opened || event.type == .clicked {
            #expect(row["machine"] as? Bool == month.isMachine(event), "\(event.eventKey)")
        }
        if let bounce = ordered.first(where: { $0.type == .bounced }) {
            #expect(rows[0]["bounce_class"] as? String == bounce.bounceClass?.rawValue)
        }
        let table = try await TestEnvironment.cli(["timeline", message.id], database: database)
        #expect(table.code == 0 && table.output.contains("message \(message.id)") && table.output.contains(ordered[0].type.rawValue))
        print("postwire timeline \(message.id):\n\(table.output)")
    }

    /// The suppressed address with the most messages: its messages, its suppression and why, its engagement.
    static func checkAddress(_ month: MonthOfEvents, database: String) async throws {
        let suppressions = month.suppressions(softLimit: 3, softDays: 7).filter { $0.value.lifted == nil }
        let mailed = Dictionary(grouping: month.messages, by: { $0.recipient.lowercased() }).mapValues(\.count)
        let address = try #require(suppressions.keys.max { (mailed[$0] ?? 0, $0) < (mailed[$1] ?? 0, $1) })
        let reason = try #require(suppressions[address]?.reason)
        let result = try await TestEnvironment.cli(["timeline", address.uppercased(), "--format", "json"], database: database)
        #expect(result.code == 0, "\(result.errors)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(json["kind"] as? String == "address")
        #expect((json["messages"] as? [[String: Any]])?.count == min(50, mailed[address] ?? 0))
        #expect((json["suppression"] as? [String: Any])?["reason"] as? String == reason)
        let engagement = try #require(json["engagement"] as? [String: Any])
        let truth = try #require(month.engagement[address])
        #expect(engagement["opens"] as? Int == truth.opens && engagement["machine_opens"] as? Int == truth.machineOpens)
        #expect(engagement["clicks"] as? Int == truth.clicks && engagement["machine_clicks"] as? Int == truth.machineClicks)
        let table = try await TestEnvironment.cli(["timeline", address], database: database)
        #expect(table.output.contains("SUPPRESSED since") && table.output.contains(reason), "\(table.output)")
        print("postwire timeline \(address):\n\(table.output)")
        print("timeline: address \(address) with \(mailed[address] ?? 0) messages, \(reason)")
    }
}
