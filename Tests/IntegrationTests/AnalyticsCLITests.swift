import EmailEvents
import EventStore
import Foundation
import Testing

/// The analysts' commands as an operator runs them: `postwire stats`, `suppressions export` and `check`.
@Suite struct AnalyticsCLITests {
    func run(_ arguments: [String], database: String) async throws -> (code: Int32, output: String) {
        let result = try await TestEnvironment.cli(arguments, database: database)
        return (result.code, result.output)
    }

    @Test func statsAndSuppressionCommands() async throws {
        try await TestEnvironment.withDatabase { database, store in
            let day = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 86400).rounded(.down) * 86400 + 3600)
            func event(_ n: Int, _ type: EventType, _ recipient: String, provider: Provider = .sendgrid) -> EmailEvent {
                var event = EmailEvent(
                    provider: provider, source: "default", type: type, espEvent: type.rawValue, eventKey: "cli-\(n)",
                    occurredAt: day.addingTimeInterval(Double(n)), receivedAt: Date(), raw: Array("{}".utf8))
                event.setRecipient(recipient)
                event.messageId = "m-\(recipient)"
                return event
            }
            var events = (0..<8).map { event($0, .delivered, "r\($0)@example.com") }
            events.append(event(8, .bounced, "bad@example.com"))
            events[events.count - 1].bounceClass = .hard
            events.append(event(9, .bounced, "soft@example.com"))
            events[events.count - 1].bounceClass = .soft
            events.append(event(10, .complained, "r1@example.com"))
            events.append(event(11, .opened, "r2@example.com"))
            events.append(event(12, .delivered, "m@example.com", provider: .mailgun))
            events.append(event(13, .opened, "r3@example.com"))
            events[events.count - 1].isMachineOpen = true  // SendGrid's sg_machine_open: not a person
            _ = try await store.write(events)

            let csv = try await run(["stats", "--since", "1d", "--by", "provider", "--format", "csv"], database: database)
            #expect(csv.code == 0)
            let lines = csv.output.split(separator: "\r\n").map(String.init)
            #expect(lines.first?.hasPrefix("provider,sent,delivered,bounced,complained") == true)
            // sendgrid: 8 delivered + 2 bounced = 10 sent; complaint 1/8; unique open 1/8.
            #expect(lines.contains("sendgrid,10,8,2,1,0,1,1,0,0,0.8,0.2,0.125,0.125,0.0"), "\(lines)")
            #expect(lines.contains("mailgun,1,1,0,0,0,0,0,0,0,1.0,0.0,0.0,0.0,0.0"), "\(lines)")
            // Everyone's opens beside the people's: 2 opens, 1 a machine's; unique open rate 2/8.
            let all = try await run(
                ["stats", "--since", "1d", "--by", "provider", "--format", "csv", "--engagement", "all"], database: database)
            let allLines = all.output.split(separator: "\r\n").map(String.init)
            #expect(
                allLines.first?.hasSuffix(
                    "unique_human_click_rate,opens,unique_opens,clicks,unique_clicks,machine_opens,machine_clicks,unique_open_rate,unique_click_rate"
                ) == true, "\(allLines)")
            #expect(allLines.contains("sendgrid,10,8,2,1,0,1,1,0,0,0.8,0.2,0.125,0.125,0.0,2,2,0,0,1,0,0.25,0.0"), "\(allLines)")
            let refused = try await TestEnvironment.cli(["stats", "--engagement", "robots"], database: database)
            #expect(refused.code != 0 && refused.errors.contains("--engagement must be human or all"), "\(refused.errors)")
            let table = try await run(["stats", "--since", "1d", "--by", "provider,day"], database: database)
            #expect(table.code == 0 && table.output.contains("sendgrid") && table.output.contains("80.00"), "\(table.output)")
            #expect(table.output.contains("people's only"), "the table says whose opens it counts")
            let json = try await run(["stats", "--since", "1d", "--by", "", "--format", "json"], database: database)
            let parsed = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
            #expect(parsed.count == 1 && parsed.first?["sent"] as? Int == 11)

            let export = try await run(["suppressions", "export"], database: database)
            #expect(export.code == 0)
            let rows = export.output.split(separator: "\r\n").map { $0.split(separator: ",").prefix(2).joined(separator: ",") }
            #expect(rows == ["address,reason", "bad@example.com,hard_bounce", "r1@example.com,complaint"], "\(export.output)")
            let suppressed = try await run(["suppressions", "check", "R1@Example.com"], database: database)
            #expect(suppressed.code == 1 && suppressed.output.contains("suppressed since") && suppressed.output.contains("complaint"))
            let fine = try await run(["suppressions", "check", "soft@example.com"], database: database)
            #expect(fine.code == 0 && fine.output.contains("not suppressed"), "\(fine.output)")
            print("postwire stats (csv):\n\(csv.output)postwire suppressions export:\n\(export.output)")
        }
    }
}
