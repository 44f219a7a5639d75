import ArgumentParser
import EventStore
import Foundation
import OperatorTools
import PostwireConfig
import WorkerApp

struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a self-contained HTML deliverability report for a period.",
        discussion: """
            One HTML file with no scripts, fonts or links to fetch (SVG charts drawn by Postwire), to open \
            offline or attach to a mail: sent, delivery, bounce and complaint rates against the alert \
            thresholds, people's opens and clicks (machines' left out), mail per day, rates by sending \
            domain, mailbox provider and campaign, top bounce reasons, suppressions added, alerts. Days are UTC.
            Examples:
              postwire report --since 7d
              postwire report --since 2026-11-01 --until 2026-12-01 -o november.html
            """
    )

    @OptionGroup var options: ConfigOption

    @Option(help: "Start: a date (2026-11-01) or an age (7d). Default 7d.")
    var since = "7d"

    @Option(help: "End (exclusive): a date or an age. Default: tomorrow, so today is included.")
    var until: String?

    @Option(name: .shortAndLong, help: "The HTML file to write; - for standard output. Default: postwire-report-<start>.html.")
    var output: String?

    func run() async throws {
        let now = Date()
        guard let parsed = Stats.parse(since, now: now) else { throw ValidationError("--since: not a date or age: \(since)") }
        let start = Self.day(parsed)
        // Whole days: the end is the midnight after the last day touched (tomorrow's by default).
        var upTo = Self.day(now).addingTimeInterval(86400)
        if let until {
            guard let value = Stats.parse(until, now: now) else { throw ValidationError("--until: not a date or age: \(until)") }
            upTo = value
        }
        let end = Self.day(upTo.addingTimeInterval(-1)).addingTimeInterval(86400)
        guard end > start else { throw ValidationError("--until must be after --since") }
        guard end.timeIntervalSince(start) <= 731 * 86400 else { throw ValidationError("a report covers at most two years") }
        let report = try await withStore(label: "postwire.report", configFile: options.config) { store, configuration, _ in
            let byDay = try await store.stats(since: start, until: end, by: ["day"])
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withFullDate]
            let known = Dictionary(byDay.map { ($0.group.first ?? "", $0) }) { a, _ in a }
            // Every day of the period, those without mail too, so the charts keep their scale.
            let days = stride(from: start, to: end, by: 86400).map { date -> StatsRow in
                let name = formatter.string(from: date)
                return known[name] ?? StatsRow(group: [name])
            }
            return DeliverabilityReport(
                since: start, until: end, generatedAt: now, days: days,
                bySender: try await store.stats(since: start, until: end, by: ["sender_domain"]),
                byMailboxProvider: try await store.stats(since: start, until: end, by: ["mailbox_provider"]),
                byCampaign: try await store.stats(since: start, until: end, by: ["campaign"]),
                bounceReasons: try await store.bounceReasons(since: start, until: end),
                suppressionsAdded: try await store.suppressionsAdded(since: start, until: end),
                alerts: try await store.alerts(since: start, until: end),
                complaintThreshold: configuration.analytics.complaintRateThreshold,
                bounceThreshold: configuration.analytics.bounceRateThreshold)
        }
        let html = report.html()
        if output == "-" {
            print(html, terminator: "")
            return
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate]
        let path = output ?? "postwire-report-\(formatter.string(from: start)).html"
        do {
            try Data(html.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot write \(path): \(error.localizedDescription)")
        }
        FileHandle.standardError.write(Data("wrote \(path) (\(report.days.count) days, \(report.total.sent) sent)\n".utf8))
    }

    /// Midnight UTC of the day `date` falls in.
    static func day(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 86400).rounded(.down) * 86400)
    }
}
