import ArgumentParser
import EventStore
import Foundation
import OperatorTools
import WorkerApp

struct TimelineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline",
        abstract: "What happened to a message, or to the mail of one address.",
        discussion: """
            With an address (it has an @): its suppression and why, its engagement, and its messages, \
            newest first. With anything else, an ESP message id: each recipient's state and every event \
            in the order it happened, bounce details and whether an open or click was a person's. \
            Times are UTC. Reads message_status, email_events, suppressions and recipient_engagement \
            (docs/ANALYTICS.md); events older than analytics.retentionDays are gone, their timeline stays.
            Examples:
              postwire timeline bob@example.com
              postwire timeline 20231114221320.6e99973ac510e7c5@mg.example.com --format json
            """
    )

    @OptionGroup var options: ConfigOption

    @Argument(help: "An email address or an ESP message id.")
    var subject: String

    @Option(help: "table or json.")
    var format = "table"

    @Option(help: "At most this many events (message) or messages (address).")
    var limit: Int?

    func validate() throws {
        guard ["table", "json"].contains(format) else { throw ValidationError("--format must be table or json") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        guard !subject.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("give an address or a message id") }
    }

    /// An address has an `@` and no `<`: Mailgun's message ids have an `@` too, but no address has
    /// the ESP's `<…>`, and an id without brackets is tried as an id when no address matches.
    var isAddress: Bool { subject.contains("@") && !subject.contains("<") }

    func run() async throws {
        let (subject, isAddress, limit, format) = (subject, isAddress, limit, format)
        let (timeline, asked) = try await withStore(label: "postwire.timeline", configFile: options.config) { store, _, _ in
            if isAddress {
                let found = try await store.timeline(address: subject, limit: limit ?? 50)
                if !found.messages.isEmpty || found.suppression != nil || found.engagement != nil { return (found, "address") }
            }
            return (try await store.timeline(messageId: subject, limit: limit ?? 1000), "message")
        }
        let empty = timeline.messages.isEmpty && timeline.events.isEmpty && timeline.suppression == nil && timeline.engagement == nil
        print(TimelineFormatter.render(timeline, subject: subject, kind: asked, format: format), terminator: "")
        if empty { throw ExitCode(1) }
    }
}

enum TimelineFormatter {
    static func render(_ timeline: Timeline, subject: String, kind: String, format: String) -> String {
        if format == "json" {
            var object: [String: Any] = [
                "query": subject, "kind": kind, "messages": timeline.messages, "truncated": timeline.truncated,
            ]
            if kind == "message" { object["events"] = timeline.events }
            if kind == "address" {
                object["suppression"] = timeline.suppression ?? NSNull()
                object["engagement"] = timeline.engagement ?? NSNull()
            }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
            return String(decoding: data, as: UTF8.self) + "\n"
        }
        var out = ""
        if timeline.messages.isEmpty && timeline.events.isEmpty && timeline.suppression == nil && timeline.engagement == nil {
            return "nothing stored for \(subject)\n"
        }
        if kind == "address" {
            out += "address \(subject.lowercased())\n"
            if let s = timeline.suppression {
                if let lifted = s["lifted_at"] {
                    out += "not suppressed: \(text(s["reason"])) since \(text(s["since"])) was lifted at \(lifted)\n"
                } else {
                    out += "SUPPRESSED since \(text(s["since"])): \(text(s["reason"]))"
                    out += (s["detail"].map { " (\($0))" } ?? "") + "\n"
                }
            } else {
                out += "not suppressed\n"
            }
            if let e = timeline.engagement {
                out += "engagement: \(text(e["events"])) events, \(text(e["delivered"])) delivered, "
                out += "\(text(e["opens"])) opens (\(text(e["machine_opens"])) by machines), "
                out += "\(text(e["clicks"])) clicks (\(text(e["machine_clicks"])) by machines), score \(text(e["score"])), "
                out += "last seen \(text(e["last_seen"])); mailbox provider \(text(e["mailbox_provider"]))\n"
            }
            let rows = timeline.messages.map { m in
                ["state_at", "state", "provider", "message_id", "sender_domain", "campaign", "human_opens", "human_clicks"].map {
                    text(m[$0])
                }
            }
            out +=
                "\n" + TextTable.render(["at", "state", "provider", "message id", "from", "campaign", "human opens", "human clicks"], rows)
            if timeline.truncated { out += "(more messages: --limit)\n" }
            return out
        }
        for m in timeline.messages {
            out += "message \(text(m["message_id"])) (\(text(m["provider"]))) to \(text(m["recipient"])): \(text(m["state"]))"
            out += " at \(text(m["state_at"]))"
            if let bounce = m["bounce_class"] { out += ", \(bounce) bounce" }
            out += "\n  from \(text(m["sender_domain"])), campaign \(text(m["campaign"])), mailbox provider \(text(m["mailbox_provider"]))"
            out +=
                "; \(text(m["opens"])) opens (\(text(m["human_opens"])) by people), \(text(m["clicks"])) clicks (\(text(m["human_clicks"])) by people)\n"
        }
        let rows = timeline.events.map { e -> [String] in
            var detail = [e["bounce_class"].map { "\($0) bounce" }, e["smtp_code"].map { "\($0)" }, e["enhanced_status"].map { "\($0)" }]
                .compactMap { $0 }.joined(separator: " ")
            if let more = e["detail"] { detail += (detail.isEmpty ? "" : ": ") + "\(more)" }
            if let url = e["click_url"] { detail += (detail.isEmpty ? "" : " ") + "\(url)" }
            if let machine = e["machine"] as? Bool {
                detail += (detail.isEmpty ? "" : " ") + (machine ? "[machine: \(text(e["engagement_reason"]))]" : "[person]")
            }
            return [
                text(e["at"]) + (e["estimated_time"] as? Bool == true ? "~" : ""), text(e["type"]), text(e["esp_event"]),
                text(e["recipient"]), detail,
            ]
        }
        out += "\n" + TextTable.render(["at", "event", "esp event", "recipient", "detail"], rows)
        if timeline.truncated { out += "(more events: --limit)\n" }
        return out
    }

    /// A value for the table: times without their zero fractions (`2026-10-07 00:10:50Z`).
    static func text(_ value: (any Sendable)?) -> String {
        switch value {
        case nil: "-"
        case let text as String where text.count == 27 && text.hasSuffix(".000000Z"):
            text.dropLast(8).replacingOccurrences(of: "T", with: " ") + "Z"
        case let text as String: text.isEmpty ? "(none)" : text
        default: "\(value!)"
        }
    }
}
