import EmailEvents
import EventStore
import Foundation
import PostgresNIO
import Testing

/// Every panel of Config/grafana/dashboards/deliverability.json run as Grafana would (its
/// `$__timeFilter` and variables substituted, as the read-only analyst role) against the generated
/// month, each compared with what the month's truth says it must show.
enum DashboardChecks {
    static let file = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config/grafana/dashboards/deliverability.json")

    struct Panel {
        var title: String
        var sql: String
    }

    static func load() throws -> (panels: [Panel], variables: [(name: String, sql: String)]) {
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
        let panels = try (dashboard["panels"] as? [[String: Any]] ?? []).map { panel in
            let targets = try #require(panel["targets"] as? [[String: Any]])
            return Panel(title: try #require(panel["title"] as? String), sql: try #require(targets.first?["rawSql"] as? String))
        }
        let list = ((dashboard["templating"] as? [String: Any])?["list"] as? [[String: Any]]) ?? []
        let variables = try list.map { (try #require($0["name"] as? String), try #require($0["query"] as? String)) }
        return (panels, variables)
    }

    /// Grafana's PostgreSQL macros and multi-value variables (all values, quoted).
    static func render(_ sql: String, from: Date, to: Date, variables: [String: [String]]) -> String {
        let formatter = ISO8601DateFormatter()
        let (a, b) = (formatter.string(from: from), formatter.string(from: to))
        var text = sql
        while let range = text.range(of: #"\$__timeFilter\(([^)]*)\)"#, options: .regularExpression) {
            let column = text[range].dropFirst("$__timeFilter(".count).dropLast()
            text.replaceSubrange(range, with: "\(column) BETWEEN '\(a)' AND '\(b)'")
        }
        for (name, values) in variables.sorted(by: { $0.key.count > $1.key.count }) {
            let list = values.map { "'" + $0.replacingOccurrences(of: "'", with: "''") + "'" }.joined(separator: ",")
            text = text.replacingOccurrences(of: "${\(name)}", with: list).replacingOccurrences(of: "$\(name)", with: list)
        }
        return text
    }

    static func rows(_ connection: PostgresConnection, _ sql: String) async throws -> [[String: Any]] {
        var result: [[String: Any]] = []
        let query = PostgresQuery(unsafeSQL: "SELECT to_jsonb(q)::text FROM (\(sql)) AS q")
        for try await text in try await connection.query(query, logger: TestEnvironment.logger).decode(String.self) {
            result.append(try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]))
        }
        return result
    }

    static func number(_ value: Any?) -> Double { (value as? NSNumber)?.doubleValue ?? .nan }
    static func day(_ value: Any?) -> String { String(((value as? String) ?? "").prefix(10)) }

    static func check(_ store: EventStore, _ month: MonthOfEvents, database: String) async throws {
        try await store.setAnalystPassword("analyst-secret")
        var configuration = TestEnvironment.postgresConfiguration(database: database)
        configuration.username = "postwire_analyst"
        configuration.password = "analyst-secret"
        let analyst = PostgresClient(configuration: configuration, backgroundLogger: TestEnvironment.logger)
        let (panels, variables) = try load()
        #expect(panels.count == 8)
        let from = MonthOfEvents.start.addingTimeInterval(-86400), to = MonthOfEvents.start.addingTimeInterval(40 * 86400)
        var alerts = 0
        for try await count in try await store.client.query(
            "SELECT count(*)::int8 FROM alerts WHERE window_end BETWEEN \(from) AND \(to)", logger: TestEnvironment.logger
        ).decode(Int64.self) { alerts = Int(count) }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await analyst.run() }
            defer { group.cancelAll() }
            try await analyst.withConnection { connection in
                try await connection.query("SET TIME ZONE 'UTC'", logger: TestEnvironment.logger)
                var values: [String: [String]] = [:]
                for (name, sql) in variables {
                    values[name] = try await rows(connection, sql).compactMap { $0.values.first as? String }
                }
                #expect(values["mailbox_provider"] == ["gmail", "other", "yahoo"], "\(values)")
                #expect(values["sender_domain"]?.count == MonthOfEvents.senderDomains.count)
                var checked = 0
                for panel in panels {
                    let result = try await rows(connection, render(panel.sql, from: from, to: to, variables: values))
                    let problem = try expectation(panel.title, result, month, alerts: alerts)
                    #expect(problem == nil, "panel \(panel.title): \(problem ?? "")")
                    checked += 1
                }
                #expect(checked == panels.count)
                print("dashboard: \(checked) panels' SQL run as postwire_analyst against the month")
            }
        }
    }

    /// nil when the panel's rows are what the month says; else what differs.
    static func expectation(_ title: String, _ rows: [[String: Any]], _ month: MonthOfEvents, alerts: Int) throws -> String? {
        var perDay: [String: [String: Int64]] = [:]
        for (key, count) in month.hourlyCounts { perDay[MonthOfEvents.day(key.hour), default: [:]][key.type, default: 0] += count }
        for (key, count) in month.uniqueCounts { perDay[MonthOfEvents.day(key.hour), default: [:]]["u_" + key.type, default: 0] += count }
        switch title {
        case "Mail over time":
            let want = perDay.mapValues { c in
                [
                    (c["delivered"] ?? 0) + (c["bounced"] ?? 0), c["delivered"] ?? 0, c["bounced"] ?? 0, c["complained"] ?? 0,
                    c["unsubscribed"] ?? 0, c["u_human_open"] ?? 0, c["u_human_click"] ?? 0,
                ].map(Double.init)
            }.filter { $0.value.contains { $0 != 0 } }
            let got = Dictionary(
                rows.map { r in
                    (
                        day(r["time"]),
                        ["sent", "delivered", "bounced", "complained", "unsubscribed", "human_opens", "human_clicks"].map { number(r[$0]) }
                    )
                }, uniquingKeysWith: { a, _ in a })
            return got == want ? nil : "\(got.count) days, want \(want.count); e.g. \(want.first { got[$0.key] != $0.value } as Any)"
        case "Hard and soft bounces":
            var want: [String: [Double]] = [:]
            for message in month.messages {
                guard let first = message.events.filter({ $0.type == .bounced }).min(by: { $0.occurredAt < $1.occurredAt }) else {
                    continue
                }
                var row = want[MonthOfEvents.day(first.occurredAt)] ?? [0, 0, 0]
                row[first.bounceClass == .hard ? 0 : first.bounceClass == .soft ? 1 : 2] += 1
                want[MonthOfEvents.day(first.occurredAt)] = row
            }
            let got = Dictionary(rows.map { (day($0["time"]), [number($0["hard"]), number($0["soft"]), number($0["other"])]) }) { a, _ in a
            }
            return got == want && !want.isEmpty ? nil : "got \(got.count) days, want \(want.count)"
        case "Suppression list growth":
            let active = month.suppressions(softLimit: 3, softDays: 7).values.filter { $0.lifted == nil }
            let reasons = ["complaint", "hard_bounce", "soft_bounces", "unsubscribe"]
            let days = Set(active.map { MonthOfEvents.day($0.at) }).sorted()
            let want = Dictionary(
                uniqueKeysWithValues: days.map { d in
                    (d, reasons.map { reason in Double(active.filter { $0.reason == reason && MonthOfEvents.day($0.at) <= d }.count) })
                })
            let got = Dictionary(rows.map { r in (day(r["time"]), reasons.map { number(r[$0]) }) }) { a, _ in a }
            return got == want ? nil : "got \(got.count) days, want \(want.count)"
        case "Rates by sending domain", "Rates by mailbox provider", "Rates by campaign":
            let column =
                title == "Rates by sending domain"
                ? "sender_domain" : title == "Rates by mailbox provider" ? "mailbox_provider" : "campaign"
            var want: [String: [String: Int64]] = [:]
            func group(_ key: MonthOfEvents.CountKey) -> String {
                column == "sender_domain"
                    ? key.senderDomain : column == "campaign" ? key.campaign : MonthOfEvents.mailboxProviders[key.recipientDomain] ?? "?"
            }
            for (key, count) in month.hourlyCounts { want[group(key), default: [:]][key.type, default: 0] += count }
            for (key, count) in month.uniqueCounts { want[group(key), default: [:]]["u_" + key.type, default: 0] += count }
            guard rows.count == want.count else { return "\(rows.count) rows, want \(want.count)" }
            for row in rows {
                let name = (row[column] as? String) ?? "?"
                guard let c = want[name] else { return "unexpected \(name)" }
                let (delivered, bounced) = (Double(c["delivered"] ?? 0), Double(c["bounced"] ?? 0))
                let expected: [(String, Double, Double)] = [
                    ("sent", delivered + bounced, 0), ("delivered", delivered, 0),
                    ("delivery_rate", delivered / (delivered + bounced), 5.001e-5),
                    ("bounce_rate", bounced / (delivered + bounced), 5.001e-5),
                    ("complaint_rate", Double(c["complained"] ?? 0) / delivered, 5.001e-6),
                    ("human_open_rate", Double(c["u_human_open"] ?? 0) / delivered, 5.001e-5),
                    ("human_click_rate", Double(c["u_human_click"] ?? 0) / delivered, 5.001e-5),
                ]
                for (field, value, tolerance) in expected where abs(number(row[field]) - value) > tolerance {
                    return "\(name) \(field): \(number(row[field])), want \(value)"
                }
            }
            return nil
        case "Top bounce reasons and SMTP codes":
            var want: [String: Double] = [:]
            for event in month.events where event.type == .bounced {
                want[
                    "\(event.smtpCode ?? 0)|\(event.enhancedStatus ?? "")|\(event.bounceClass?.rawValue ?? "")|\(event.description ?? "")",
                    default: 0] += 1
            }
            let got = Dictionary(
                rows.map { r in
                    (
                        "\(r["smtp_code"] as? String ?? "")|\(r["status"] as? String ?? "")|\(r["class"] as? String ?? "")|\(r["reason"] as? String ?? "")",
                        number(r["bounces"])
                    )
                }
            ) { a, _ in a }
            let ordered = rows.map { number($0["bounces"]) }
            return got == want && ordered == ordered.sorted(by: >) ? nil : "got \(got), want \(want)"
        case "Alerts raised":
            let kinds = Set(rows.compactMap { $0["kind"] as? String })
            return rows.count == alerts && alerts > 0 && kinds.isSubset(of: ["complaint_rate", "bounce_rate"])
                ? nil : "\(rows.count) rows, \(alerts) alerts in the range"
        default:
            return "no expectation written for this panel"
        }
    }
}
