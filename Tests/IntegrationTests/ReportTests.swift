import EmailEvents
import EventStore
import Foundation
import OperatorTools
import PostwireConfig
import Testing
import WorkerApp

/// `postwire report` for the generated month, rendered by a real headless Chromium (Debian's
/// `chromium`, installed by Scripts/test): no console error, every chart drawn, a screenshot kept.
@Suite struct ReportTests {
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".postwire/artifacts")

    /// Runs Chromium headless on `page`: the DOM after load, and its log (console messages included).
    static func chromium(_ page: URL, screenshot: URL? = nil) async throws -> (dom: String, log: String) {
        let chromium = try #require(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "chromium is not installed (Scripts/test installs it)")
        let profile = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("chromium"))
        defer { try? FileManager.default.removeItem(at: profile) }
        var arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions", "--enable-logging=stderr",
            "--v=0", "--user-data-dir=\(profile.path)", "--window-size=1000,2800",
        ]
        arguments += screenshot.map { ["--screenshot=\($0.path)", page.absoluteString] } ?? ["--dump-dom", page.absoluteString]
        let out = profile.path + ".out"
        // Alone with the tests that time themselves: the browser loads every core for seconds.
        let fixed = arguments
        let ended = try await QuietCPU.shared.run {
            try await ChildProcess.spawn(
                chromium, fixed, environment: ProcessInfo.processInfo.environment, logPath: out + ".err", stdoutPath: out
            ).wait()
        }
        defer { for path in [out, out + ".err"] { try? FileManager.default.removeItem(atPath: path) } }
        #expect(ended.code == 0, "chromium exited \(ended.code)")
        return (
            (try? String(contentsOfFile: out, encoding: .utf8)) ?? "", (try? String(contentsOfFile: out + ".err", encoding: .utf8)) ?? ""
        )
    }

    /// Console messages Chromium logged for the page.
    static func consoleMessages(_ log: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { $0.contains(":CONSOLE") || $0.contains("Uncaught") }
    }

    @Test func theMonthsReportRendersInHeadlessChromium() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let month = MonthOfEvents(messages: 600, seed: 13)
            var analytics = AnalyticsSettings()
            MonthOfEvents.configure(&analytics)
            let rules = try analytics.engagementRules()
            try await store.installMailboxProviders(try analytics.policy().mailboxProviders)
            var events = month.events
            for index in events.indices { rules.classify(&events[index]) }
            // What an ESP's payload may carry ends up in the page: it must stay text.
            var hostile = EmailEvent(
                provider: .mailgun, source: "default", type: .bounced, espEvent: "failed", eventKey: "hostile-1",
                occurredAt: MonthOfEvents.start.addingTimeInterval(3600), receivedAt: Date(), raw: Array("{}".utf8))
            hostile.setRecipient("x@corp.test")
            hostile.setSender("news@<b>evil</b>.test")
            hostile.campaign = "<script>alert('campaign')</script>"
            hostile.bounceClass = .hard
            hostile.description = "<img src=x onerror=alert(1)> & \"quoted\""
            events.append(hostile)
            _ = try await store.write(events)

            let directory = Self.artifacts
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let page = directory.appendingPathComponent("report.html")
            let result = try await TestEnvironment.cli(
                ["report", "--since", "2026-10-01", "--until", "2026-11-01", "-o", page.path], database: database)
            #expect(result.code == 0, "\(result.errors)")
            #expect(result.errors.contains("wrote \(page.path) (31 days"), "\(result.errors)")
            let html = try String(contentsOf: page, encoding: .utf8)
            // Self-contained: no script, no fetched resource, no link; the ESP's text escaped.
            #expect(!html.lowercased().contains("<script"), "no script in the page")
            #expect(
                html.range(of: #"<[a-zA-Z][^>]*\s(src|href|srcset|xlink:href)\s*="#, options: .regularExpression) == nil,
                "no tag fetches or links")
            #expect(!html.contains("url(") && !html.contains("@import"), "no stylesheet fetches")
            #expect(html.contains("&lt;script&gt;alert(&#39;campaign&#39;)&lt;/script&gt;"))
            #expect(html.contains("&lt;img src=x onerror=alert(1)&gt; &amp; &quot;quoted&quot;"))
            let delivered = month.events.filter { $0.type == .delivered }.count
            let bounced = month.events.filter { $0.type == .bounced }.count + 1
            #expect(html.contains(">\(Self.grouped(delivered + bounced))<"), "the Sent card shows the month's sent")

            let (dom, log) = try await Self.chromium(page)
            #expect(Self.consoleMessages(log).isEmpty, "console: \(Self.consoleMessages(log))")
            for id in DeliverabilityReport.chartIDs {
                #expect(dom.contains("<svg id=\"\(id)\""), "chart \(id) in the rendered page")
            }
            #expect(dom.components(separatedBy: "class=\"bar\"").count > 40, "bars drawn")
            #expect(dom.contains("class=\"line\""), "rate lines drawn")
            let screenshot = directory.appendingPathComponent("report.png")
            try? FileManager.default.removeItem(at: screenshot)
            _ = try await Self.chromium(page, screenshot: screenshot)
            let size = (try FileManager.default.attributesOfItem(atPath: screenshot.path)[.size] as? Int) ?? 0
            #expect(size > 20_000, "a screenshot of \(size) bytes")
            print("report: \(html.utf8.count) bytes of HTML, screenshot \(screenshot.path) (\(size) bytes)")
        }
    }

    /// The console check can fail: a page with a failing script is caught.
    @Test func aPageWithAConsoleErrorIsCaught() async throws {
        let page = FileManager.default.temporaryDirectory.appendingPathComponent(TestEnvironment.unique("broken") + ".html")
        try Data("<!DOCTYPE html><html><body><script>notDefined()</script></body></html>".utf8).write(to: page)
        defer { try? FileManager.default.removeItem(at: page) }
        let (_, log) = try await Self.chromium(page)
        #expect(!Self.consoleMessages(log).isEmpty, "chromium's log: \(log.suffix(2000))")
    }

    /// Thousands separated by commas, as the report's cards write them (Foundation's, not the report's code).
    static func grouped(_ value: Int) -> String {
        let formatter = NumberFormatter()
        formatter.locale = Locale(identifier: "en_US")
        formatter.numberStyle = .decimal
        return formatter.string(from: NSNumber(value: value)) ?? "\(value)"
    }
}
