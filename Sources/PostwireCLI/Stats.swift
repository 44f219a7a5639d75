import ArgumentParser
import EventStore
import Foundation
import OperatorTools
import PostwireConfig
import WorkerApp

struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Counts and rates over a period, grouped by provider, domain, campaign or day.",
        discussion: """
            Reads the daily_counts view (docs/ANALYTICS.md). Rates: delivery = delivered / sent, \
            bounce = bounced / sent, complaint = complained / delivered, unique open (click) = unique \
            opens (clicks) / delivered; "sent" = delivered + bounced. Days are UTC. Opens and clicks are \
            people's: those the engagement rules call a machine's (image proxies, link scanners) are left \
            out unless --engagement all.
            Examples:
              postwire stats --since 7d --by provider
              postwire stats --since 2026-11-01 --until 2026-12-01 --by sender_domain,campaign --format csv
              postwire stats --since 30d --by campaign --engagement all
            """
    )

    @OptionGroup var options: ConfigOption

    @Option(help: "Start: a date (2026-11-01) or an age (7d, 24h). Default 7d.")
    var since = "7d"

    @Option(help: "End (exclusive): a date or an age. Default: tomorrow, so today is included.")
    var until: String?

    @Option(help: "Comma-separated: \(EventStore.statsDimensions.joined(separator: ", ")). Default: provider.")
    var by = "provider"

    @Option(help: "table, csv or json.")
    var format = "table"

    @Option(help: "human: opens and clicks of people only (machines' left out); all: people's and everyone's side by side.")
    var engagement = "human"

    func validate() throws {
        guard ["table", "csv", "json"].contains(format) else { throw ValidationError("--format must be table, csv or json") }
        guard ["human", "all"].contains(engagement) else { throw ValidationError("--engagement must be human or all") }
        for dimension in dimensions where !EventStore.statsDimensions.contains(dimension) {
            throw ValidationError("--by: unknown dimension \(dimension); use \(EventStore.statsDimensions.joined(separator: ", "))")
        }
    }

    var dimensions: [String] { by.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }

    func run() async throws {
        let now = Date()
        guard let start = Self.parse(since, now: now) else { throw ValidationError("--since: not a date or age: \(since)") }
        let end: Date
        if let until {
            guard let parsed = Self.parse(until, now: now) else { throw ValidationError("--until: not a date or age: \(until)") }
            end = parsed
        } else {
            end = now.addingTimeInterval(86400)
        }
        let dimensions = dimensions
        let rows = try await withStore(label: "postwire.stats", configFile: options.config) { store, _, _ in
            try await store.stats(since: start, until: end, by: dimensions)
        }
        print(StatsFormatter.render(rows, dimensions: dimensions, format: format, all: engagement == "all"), terminator: "")
    }

    /// `2026-11-01` (UTC), `2026-11-01T12:00:00Z`, or an age before now (`7d`, `24h`, `30m`, DurationText).
    static func parse(_ text: String, now: Date) -> Date? {
        if let age = DurationText.seconds(text) { return now.addingTimeInterval(-age) }
        let formatter = ISO8601DateFormatter()
        if let instant = formatter.date(from: text) { return instant }
        formatter.formatOptions = [.withFullDate]
        return formatter.date(from: text)
    }
}

enum StatsFormatter {
    /// What every format shows; `--engagement all` adds ``allColumns``. Opens and clicks are
    /// people's unless a column says otherwise (docs/ANALYTICS.md).
    static let humanColumns = [
        "sent", "delivered", "bounced", "complained", "unsubscribed", "human_opens", "unique_human_opens", "human_clicks",
        "unique_human_clicks", "delivery_rate", "bounce_rate", "complaint_rate", "unique_human_open_rate", "unique_human_click_rate",
    ]
    static let allColumns = [
        "opens", "unique_opens", "clicks", "unique_clicks", "machine_opens", "machine_clicks", "unique_open_rate", "unique_click_rate",
    ]

    static func columns(all: Bool) -> [String] { all ? humanColumns + allColumns : humanColumns }

    static func values(_ row: StatsRow) -> [String: Any] {
        [
            "sent": row.sent, "delivered": row.delivered, "bounced": row.bounced, "complained": row.complained,
            "unsubscribed": row.unsubscribed, "opens": row.opens, "unique_opens": row.uniqueOpens, "clicks": row.clicks,
            "unique_clicks": row.uniqueClicks, "human_opens": row.humanOpens, "unique_human_opens": row.uniqueHumanOpens,
            "human_clicks": row.humanClicks, "unique_human_clicks": row.uniqueHumanClicks, "machine_opens": row.machineOpens,
            "machine_clicks": row.machineClicks, "delivery_rate": row.deliveryRate as Any, "bounce_rate": row.bounceRate as Any,
            "complaint_rate": row.complaintRate as Any, "unique_open_rate": row.uniqueOpenRate as Any,
            "unique_click_rate": row.uniqueClickRate as Any, "unique_human_open_rate": row.uniqueHumanOpenRate as Any,
            "unique_human_click_rate": row.uniqueHumanClickRate as Any,
        ]
    }

    static func render(_ rows: [StatsRow], dimensions: [String], format: String, all: Bool = false) -> String {
        let columns = columns(all: all)
        switch format {
        case "json":
            let objects: [[String: Any]] = rows.map { row in
                let values = values(row)
                var object: [String: Any] = [:]
                for name in columns { object[name] = (values[name] as? Double?).flatMap { $0 } ?? values[name] }
                for (name, value) in zip(dimensions, row.group) { object[name] = value }
                for key in object.keys where (object[key] as? Double?) == .some(nil) { object[key] = NSNull() }
                return object
            }
            let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys])) ?? Data("[]".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        case "csv":
            var out = (dimensions + columns).joined(separator: ",") + "\r\n"
            for row in rows {
                let fields = row.group.map(CSVSink.quoted) + columns.map { cell(values(row)[$0], precise: true) }
                out += fields.joined(separator: ",") + "\r\n"
            }
            return out
        default:
            var header =
                dimensions + ["sent", "delivered", "bounced", "complaints", "unsub", "u.opens", "u.clicks"]
                + ["deliv %", "bounce %", "compl %", "open %", "click %"]
            if all { header += ["u.opens all", "u.clicks all", "mach.opens", "mach.clicks", "open % all", "click % all"] }
            let body = rows.map { row in
                var cells =
                    row.group.map { $0.isEmpty ? "(none)" : $0 }
                    + [row.sent, row.delivered, row.bounced, row.complained, row.unsubscribed, row.uniqueHumanOpens, row.uniqueHumanClicks]
                    .map { String($0) }
                    + [row.deliveryRate, row.bounceRate, row.complaintRate, row.uniqueHumanOpenRate, row.uniqueHumanClickRate].map(percent)
                if all {
                    cells += [row.uniqueOpens, row.uniqueClicks, row.machineOpens, row.machineClicks].map { String($0) }
                    cells += [row.uniqueOpenRate, row.uniqueClickRate].map(percent)
                }
                return cells
            }
            let note =
                all
                ? "opens and clicks: u.* and % are people's; \"all\" includes machines' (mach.*)\n"
                : "opens and clicks: people's only (machines' left out; --engagement all shows both)\n"
            return TextTable.render(header, body) + (rows.isEmpty ? "(no events in this period)\n" : note)
        }
    }

    static func cell(_ value: Any?, precise: Bool) -> String {
        switch value {
        case let number as Int64: String(number)
        case let rate as Double: String(rate)
        default: ""
        }
    }

    static func percent(_ rate: Double?) -> String {
        rate.map { String(format: "%.2f", $0 * 100) } ?? "-"
    }

}
