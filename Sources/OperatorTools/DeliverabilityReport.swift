import EventStore
import Foundation

/// What `postwire report` puts in one self-contained HTML page for a period: the thing a person
/// mails to the marketing team on Monday. Everything is inline (CSS, SVG charts drawn by
/// ``SVGChart``); there is no script, no font and no link to fetch, so it opens anywhere, offline.
public struct DeliverabilityReport: Sendable {
    public var since: Date
    public var until: Date
    public var generatedAt: Date
    /// Days in order, each a `StatsRow` grouped by day.
    public var days: [StatsRow]
    public var bySender: [StatsRow]
    public var byMailboxProvider: [StatsRow]
    public var byCampaign: [StatsRow]
    public var bounceReasons: [BounceReason]
    public var suppressionsAdded: [String: Int64]
    public var alerts: [AlertSummary]
    public var complaintThreshold: Double
    public var bounceThreshold: Double

    public init(
        since: Date, until: Date, generatedAt: Date, days: [StatsRow], bySender: [StatsRow], byMailboxProvider: [StatsRow],
        byCampaign: [StatsRow], bounceReasons: [BounceReason], suppressionsAdded: [String: Int64], alerts: [AlertSummary],
        complaintThreshold: Double, bounceThreshold: Double
    ) {
        (self.since, self.until, self.generatedAt) = (since, until, generatedAt)
        (self.days, self.bySender, self.byMailboxProvider, self.byCampaign) = (days, bySender, byMailboxProvider, byCampaign)
        (self.bounceReasons, self.suppressionsAdded, self.alerts) = (bounceReasons, suppressionsAdded, alerts)
        (self.complaintThreshold, self.bounceThreshold) = (complaintThreshold, bounceThreshold)
    }

    /// The whole period's counts: the days summed.
    public var total: StatsRow {
        var total = StatsRow(group: [])
        for day in days {
            total.sent += day.sent
            total.delivered += day.delivered
            total.bounced += day.bounced
            total.complained += day.complained
            total.unsubscribed += day.unsubscribed
            total.uniqueHumanOpens += day.uniqueHumanOpens
            total.uniqueHumanClicks += day.uniqueHumanClicks
            total.humanOpens += day.humanOpens
            total.machineOpens += day.machineOpens
        }
        return total
    }

    /// The chart ids the page holds, in order (what the browser test looks for).
    public static let chartIDs = ["chart-volume", "chart-rates", "chart-opens"]

    public func html() -> String {
        let total = total
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        let lastDay = until.addingTimeInterval(-1)
        let period = "\(day.string(from: since)) – \(day.string(from: lastDay))"
        let labels = days.map { String(($0.group.first ?? "").suffix(5)) }
        func values(_ pick: (StatsRow) -> Int64) -> [Double] { days.map { Double(pick($0)) } }
        func rates(_ pick: (StatsRow) -> Double?) -> [Double] { days.map { pick($0) ?? 0 } }
        let volume = SVGChart.bars(
            id: Self.chartIDs[0], title: "Mail per day", categories: labels,
            series: [
                .init(name: "delivered", color: "#2e7d32", values: values(\.delivered)),
                .init(name: "bounced", color: "#c62828", values: values(\.bounced)),
            ], stacked: true)
        let rateChart = SVGChart.lines(
            id: Self.chartIDs[1], title: "Bounce and complaint rates per day", categories: labels,
            series: [
                .init(name: "bounce rate", color: "#c62828", values: rates(\.bounceRate)),
                .init(name: "complaint rate", color: "#6a1b9a", values: rates(\.complaintRate)),
            ],
            thresholds: [("bounce alert", bounceThreshold), ("complaint alert", complaintThreshold)])
        let opens = SVGChart.bars(
            id: Self.chartIDs[2], title: "Opens per day: people and machines", categories: labels,
            series: [
                .init(name: "people", color: "#1565c0", values: values(\.humanOpens)),
                .init(name: "machines (proxies, scanners)", color: "#90a4ae", values: values(\.machineOpens)),
            ], stacked: true)

        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Deliverability report \(HTML.escape(period))</title>
            <style>\(Self.style)</style></head><body>
            <header><h1>Deliverability report</h1><p>\(HTML.escape(period)) (UTC) · made by Postwire at \(HTML.escape(ISO8601DateFormatter().string(from: generatedAt)))</p></header>
            <section class="cards">
            """
        page += card("Sent", integer(total.sent), note: "delivered + bounced")
        page += card("Delivered", percent(total.deliveryRate), note: "\(integer(total.delivered)) messages")
        page += card(
            "Bounced", percent(total.bounceRate), note: "alert above \(percent(bounceThreshold))",
            bad: (total.bounceRate ?? 0) > bounceThreshold)
        page += card(
            "Complaints", percent(total.complaintRate, digits: 3), note: "alert above \(percent(complaintThreshold, digits: 3))",
            bad: (total.complaintRate ?? 0) > complaintThreshold)
        page += card("Opened by people", percent(total.uniqueHumanOpenRate), note: "machines' opens left out")
        page += card("Clicked by people", percent(total.uniqueHumanClickRate), note: "scanners' clicks left out")
        page += card("Unsubscribed", integer(total.unsubscribed), note: "")
        page += "</section>\n"
        page += volume + rateChart + opens
        page += table("By sending domain", bySender)
        page += table("By mailbox provider", byMailboxProvider)
        page += table("By campaign (the 15 largest)", Array(byCampaign.sorted { $0.sent > $1.sent }.prefix(15)))
        page += "<section><h2>Top bounce reasons</h2>"
        if bounceReasons.isEmpty {
            page += "<p>No bounces in this period.</p>"
        } else {
            page += "<table><thead><tr><th>SMTP code</th><th>status</th><th>class</th><th>answer</th><th>bounces</th></tr></thead><tbody>"
            for reason in bounceReasons {
                page += "<tr><td>\(HTML.escape(reason.smtpCode))</td><td>\(HTML.escape(reason.status))</td>"
                page +=
                    "<td>\(HTML.escape(reason.bounceClass))</td><td>\(HTML.escape(reason.reason))</td><td class=\"n\">\(reason.count)</td></tr>"
            }
            page += "</tbody></table>"
        }
        page += "</section><section><h2>Suppressions added</h2><p>"
        let reasons = ["complaint", "hard_bounce", "soft_bounces", "unsubscribe"]
        page += reasons.map { "\(HTML.escape($0.replacingOccurrences(of: "_", with: " "))): <b>\(suppressionsAdded[$0] ?? 0)</b>" }.joined(
            separator: " · ")
        page += "</p></section><section><h2>Alerts</h2>"
        if alerts.isEmpty {
            page += "<p>No alert in this period.</p>"
        } else {
            page +=
                "<table><thead><tr><th>window end</th><th>kind</th><th>sending domain</th><th>rate</th><th>threshold</th></tr></thead><tbody>"
            for alert in alerts {
                page += "<tr><td>\(HTML.escape(ISO8601DateFormatter().string(from: alert.windowEnd)))</td>"
                page +=
                    "<td>\(HTML.escape(alert.kind.replacingOccurrences(of: "_", with: " ")))</td><td>\(HTML.escape(alert.senderDomain))</td>"
                page +=
                    "<td class=\"n bad\">\(percent(alert.rate, digits: 3))</td><td class=\"n\">\(percent(alert.threshold, digits: 3))</td></tr>"
            }
            page += "</tbody></table>"
        }
        page += """
            </section><footer>Opens and clicks are people's: those the engagement rules judged a machine's (image proxies, \
            link scanners) are left out. Rates: delivered and bounced of sent, complaints and people's opens and clicks of \
            delivered. Days are UTC.</footer></body></html>
            """
        return page + "\n"
    }

    func card(_ title: String, _ value: String, note: String, bad: Bool = false) -> String {
        "<div class=\"card\(bad ? " bad" : "")\"><div class=\"title\">\(HTML.escape(title))</div><div class=\"value\">\(HTML.escape(value))</div><div class=\"note\">\(HTML.escape(note))</div></div>\n"
    }

    func table(_ title: String, _ rows: [StatsRow]) -> String {
        var out = "<section><h2>\(HTML.escape(title))</h2>"
        guard !rows.isEmpty else { return out + "<p>Nothing in this period.</p></section>" }
        out += "<table><thead><tr><th></th><th>sent</th><th>delivered</th><th>bounced</th><th>complaints</th>"
        out += "<th>opened by people</th><th>clicked by people</th><th>unsubscribed</th></tr></thead><tbody>"
        for row in rows {
            let name = row.group.first.map { $0.isEmpty ? "(none)" : $0 } ?? ""
            out += "<tr><td>\(HTML.escape(name))</td><td class=\"n\">\(integer(row.sent))</td>"
            out += "<td class=\"n\">\(percent(row.deliveryRate))</td>"
            out += "<td class=\"n\((row.bounceRate ?? 0) > bounceThreshold ? " bad" : "")\">\(percent(row.bounceRate))</td>"
            out +=
                "<td class=\"n\((row.complaintRate ?? 0) > complaintThreshold ? " bad" : "")\">\(percent(row.complaintRate, digits: 3))</td>"
            out += "<td class=\"n\">\(percent(row.uniqueHumanOpenRate))</td><td class=\"n\">\(percent(row.uniqueHumanClickRate))</td>"
            out += "<td class=\"n\">\(integer(row.unsubscribed))</td></tr>"
        }
        return out + "</tbody></table></section>\n"
    }

    func percent(_ rate: Double?, digits: Int = 1) -> String {
        rate.map { String(format: "%.\(digits)f %%", $0 * 100) } ?? "–"
    }

    func integer(_ value: Int64) -> String {
        let digits = String(value)
        var out = ""
        for (n, character) in digits.reversed().enumerated() {
            if n > 0, n % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return String(out.reversed())
    }

    static let style = """
        body{font-family:-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;max-width:960px;margin:24px auto;padding:0 16px}
        h1{font-size:24px;margin:0}h2{font-size:18px;margin:28px 0 8px}header p{color:#666;margin:4px 0 16px}
        .cards{display:flex;flex-wrap:wrap;gap:10px}.card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:110px}
        .card .title{font-size:12px;color:#666}.card .value{font-size:22px;font-weight:600}.card .note{font-size:11px;color:#888}
        .card.bad{border-color:#c62828}.card.bad .value{color:#c62828}
        figure{margin:20px 0}figcaption{font-weight:600;margin-bottom:4px}svg.chart{width:100%;height:auto}
        svg text{font-size:11px;fill:#555}svg .note{fill:#b00020}
        table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #eee;padding:4px 6px;text-align:left}
        td.n,th:not(:first-child){text-align:right}td.bad{color:#c62828;font-weight:600}
        footer{margin:32px 0;font-size:12px;color:#666}
        """
}
