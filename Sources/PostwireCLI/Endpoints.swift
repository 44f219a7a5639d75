import ArgumentParser
import EventStore
import Foundation
import OperatorTools
import PostwireConfig

struct Endpoints: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Manage the endpoints postwire-dispatcher sends events to (docs/DELIVERY.md).",
        subcommands: [Add.self, List.self, Show.self, Disable.self, Enable.self, RotateSecret.self, Remove.self, ReplayEvents.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an endpoint; prints its signing secret (give it to the receiver).",
            discussion: """
                Every new event that passes the filter is sent, signed as Standard Webhooks: \
                each filter option may be repeated or comma-separated, and an option left out matches \
                everything. Examples:
                  postwire endpoints add crm https://crm.example/hooks/email --event-type bounced,complained,unsubscribed
                  postwire endpoints add lake https://ingest.example/postwire --batch-size 100 --rate-limit 20
                """
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "A name: letters, digits, '.', '_' or '-'.") var name: String
        @Argument(help: "The URL events are POSTed to (http or https).") var url: String
        @Option(help: "The signing secret (whsec_…); default: a new random one.") var secret: String?
        @Option(help: "Event types (bounced, email.bounced, …).") var eventType: [String] = []
        @Option(help: "Providers (sendgrid, mailgun, …).") var provider: [String] = []
        @Option(help: "Sources (the {source} URL segment at the ingress).") var source: [String] = []
        @Option(help: "Campaigns.") var campaign: [String] = []
        @Option(help: "Sender domains.") var senderDomain: [String] = []
        @Option(help: "Events per request: 1 sends each on its own, more sends JSON arrays of up to this many.")
        var batchSize = 1
        @Option(help: "Requests per second at most.") var rateLimit: Double?
        @Option(help: "What the endpoint is for.") var description = ""

        func run() async throws {
            let draft = EndpointDraft(
                name: name, url: url, description: description, secret: secret ?? WebhookSecret.generate(),
                filter: EndpointFilter(
                    eventTypes: split(eventType), providers: split(provider), sources: split(source), campaigns: split(campaign),
                    senderDomains: split(senderDomain)),
                batchSize: batchSize, rateLimit: rateLimit)
            do { try draft.validate() } catch { throw ValidationError(error.message) }
            let endpoint = try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                try await store.addEndpoint(draft)
            }
            print("added endpoint \(endpoint.name) (\(endpoint.url))")
            print("signing secret: \(draft.secret)")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the endpoints with their queues.")
        @OptionGroup var options: ConfigOption

        func run() async throws {
            let (endpoints, backlogs) = try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                (try await store.endpoints(), try await store.backlogs())
            }
            let queues = Dictionary(backlogs.map { ($0.endpoint, $0) }, uniquingKeysWith: { a, _ in a })
            let rows = endpoints.map { endpoint -> [String] in
                let queue = queues[endpoint.name]
                return [
                    endpoint.name, endpoint.enabled ? "enabled" : "disabled", endpoint.url, describe(endpoint.filter),
                    "\(endpoint.batchSize)", "\(queue?.pending ?? 0)", "\(queue?.due ?? 0)",
                    String(format: "%.0f", queue?.oldestDueSeconds ?? 0),
                    "\(queue?.failed ?? 0)",
                ]
            }
            print(
                TextTable.render(["endpoint", "state", "url", "filter", "batch", "pending", "due", "oldest_due_s", "failed"], rows),
                terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one endpoint (its secrets are not shown).")
        @OptionGroup var options: ConfigOption
        @Argument var name: String

        func run() async throws {
            let name = name
            let endpoint = try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                try await store.endpoint(named: name)
            }
            guard let endpoint else { throw ValidationError("no endpoint named \(name)") }
            let now = Date()
            print(
                """
                name:            \(endpoint.name)
                url:             \(endpoint.url)
                description:     \(endpoint.description)
                state:           \(endpoint.enabled ? "enabled" : "disabled (\(endpoint.disabledReason ?? ""))")
                failing since:   \(endpoint.failingSince.map(CSVSink.timestamp) ?? "-")
                filter:          \(describe(endpoint.filter))
                batch size:      \(endpoint.batchSize)
                rate limit:      \(endpoint.rateLimit.map { "\($0) requests/s" } ?? "none")
                signing secrets: \(endpoint.signingSecrets(at: now).count) in use\
                \(endpoint.secrets.compactMap(\.expiresAt).filter { $0 > now }.map { ", one until \(CSVSink.timestamp($0))" }.joined())
                managed by:      \(endpoint.managedBy)
                """)
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Stop sending to an endpoint. New events are not offered to it meanwhile; its pending deliveries wait.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Option(help: "Why (shown by `endpoints show`).") var reason: String?

        func run() async throws {
            let (name, reason) = (name, reason)
            try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                try await store.setEndpoint(name, enabled: false, reason: reason)
            }
            print("disabled \(name)")
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send to an endpoint again: its pending deliveries go at once (`endpoints replay` sends what it missed).")
        @OptionGroup var options: ConfigOption
        @Argument var name: String

        func run() async throws {
            let name = name
            try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                try await store.setEndpoint(name, enabled: true)
            }
            print("enabled \(name)")
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret",
            abstract:
                "Sign with a new secret; the old one keeps signing beside it for --overlap, so the receiver can switch in its own time."
        )
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Option(help: "The new secret (whsec_…); default: a new random one.") var secret: String?
        @Option(help: "How long the old secret keeps signing: 24h, 30m, 0 to stop at once.") var overlap = "24h"

        func run() async throws {
            guard let seconds = DurationText.seconds(overlap) else { throw ValidationError("--overlap: a duration such as 24h, 30m or 0") }
            let (name, secret) = (name, secret ?? WebhookSecret.generate())
            try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                try await store.rotateSecret(name, to: secret, overlap: seconds)
            }
            print("new signing secret of \(name): \(secret)")
            print(seconds > 0 ? "the old secret keeps signing for \(overlap)" : "the old secret no longer signs")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an endpoint with its deliveries and attempts.")
        @OptionGroup var options: ConfigOption
        @Argument var name: String

        func run() async throws {
            let name = name
            try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                try await store.removeEndpoint(name)
            }
            print("removed \(name)")
        }
    }

    struct ReplayEvents: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract: "Send an endpoint again every stored event of a period that passes its filter (for a receiver that lost data).",
            discussion: """
                Selects by when the event occurred. The events go out as new deliveries with the same \
                event ids (webhook-id) as before, so a receiver that kept some recognises them.
                  postwire endpoints replay crm --since 2026-11-30 --until 2026-12-01
                  postwire endpoints replay crm --since 6h
                """
        )
        @OptionGroup var options: ConfigOption
        @Argument var name: String
        @Option(help: "Start: a date (UTC), a time (ISO 8601) or an age (6h, 2d).") var since: String
        @Option(help: "End (not included); default: now.") var until: String?

        func run() async throws {
            let now = Date()
            guard let start = Stats.parse(since, now: now) else { throw ValidationError("--since: not a date or age: \(since)") }
            guard let end = until.map({ Stats.parse($0, now: now) }) ?? now else { throw ValidationError("--until: not a date or age") }
            let name = name
            let count = try await withStore(label: "postwire.endpoints", configFile: options.config) { store, _, _ in
                try await store.replay(endpoint: name, since: start, until: end)
            }
            print(
                "offered \(count) event\(count == 1 ? "" : "s") to \(name) again (\(CSVSink.timestamp(start)) to \(CSVSink.timestamp(end)))"
            )
        }
    }
}

/// `--event-type bounced,complained --event-type opened` → three types.
func split(_ values: [String]) -> [String] {
    values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

func describe(_ filter: EndpointFilter) -> String {
    let parts = [
        ("types", filter.eventTypes), ("providers", filter.providers), ("sources", filter.sources), ("campaigns", filter.campaigns),
        ("sender domains", filter.senderDomains),
    ].filter { !$0.1.isEmpty }.map { "\($0.0) \($0.1.joined(separator: ","))" }
    return parts.isEmpty ? "every event" : parts.joined(separator: "; ")
}
