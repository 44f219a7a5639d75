import ArgumentParser
import EventStore
import Foundation
import OperatorTools

struct Deliveries: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Look at the deliveries to endpoints, and send failed ones again (docs/DELIVERY.md).",
        subcommands: [List.self, Show.self, Retry.self]
    )

    struct Selection: ParsableArguments {
        @Option(help: "Only this endpoint's.") var endpoint: String?
        @Option(help: "Only pending, delivered or failed ones.") var status: String?
        @Option(help: "Made since: a date (UTC), a time (ISO 8601) or an age (6h, 2d).") var since: String?
        @Option(help: "Made before this.") var until: String?

        func validate() throws {
            if let status, !["pending", "delivered", "failed"].contains(status) {
                throw ValidationError("--status must be pending, delivered or failed")
            }
            _ = try selection()
        }

        func selection(ids: [Int64]? = nil) throws -> DeliverySelection {
            let now = Date()
            func date(_ text: String?, _ option: String) throws -> Date? {
                guard let text else { return nil }
                guard let date = Stats.parse(text, now: now) else { throw ValidationError("\(option): not a date or age: \(text)") }
                return date
            }
            return DeliverySelection(
                endpoint: endpoint, status: status, since: try date(since, "--since"), until: try date(until, "--until"), ids: ids)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List deliveries, newest first.")
        @OptionGroup var options: ConfigOption
        @OptionGroup var selection: Selection
        @Option(help: "How many at most.") var limit = 50

        func run() async throws {
            let (selection, limit) = (try selection.selection(), limit)
            let rows = try await withStore(label: "postwire.deliveries", configFile: options.config) { store, _, _ in
                try await store.deliveries(selection, limit: limit)
            }
            print(
                TextTable.render(
                    ["id", "endpoint", "event", "type", "status", "attempts", "last", "created", "next_or_done"],
                    rows.map { row in
                        [
                            "\(row.id)", row.endpoint, "\(row.provider):\(row.eventKey)", row.eventType,
                            row.replay > 0 ? "\(row.status) (replay \(row.replay))" : row.status, "\(row.attempts)",
                            row.lastStatus.map(String.init) ?? row.lastError ?? "-", CSVSink.timestamp(row.createdAt),
                            row.status == "pending" ? CSVSink.timestamp(row.dueAt) : row.deliveredAt.map(CSVSink.timestamp) ?? "-",
                        ]
                    }), terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one delivery and every attempt made.")
        @OptionGroup var options: ConfigOption
        @Argument var id: Int64

        func run() async throws {
            let id = id
            let (rows, attempts) = try await withStore(label: "postwire.deliveries", configFile: options.config) { store, _, _ in
                (try await store.deliveries(DeliverySelection(ids: [id]), limit: 1), try await store.attempts(delivery: id))
            }
            guard let row = rows.first else { throw ValidationError("no delivery \(id)") }
            print(
                """
                delivery \(row.id) to \(row.endpoint): \(row.status)\(row.replay > 0 ? " (replay \(row.replay))" : "")
                event:     \(row.provider):\(row.eventKey) (\(row.eventType))
                created:   \(CSVSink.timestamp(row.createdAt))
                \(row.status == "pending" ? "next try:  \(CSVSink.timestamp(row.dueAt))" : "done:      \(row.deliveredAt.map(CSVSink.timestamp) ?? "-")")
                attempts:
                """)
            print(
                TextTable.render(
                    ["attempt", "at", "status", "latency_ms", "webhook_id", "error", "response"],
                    attempts.map { a in
                        [
                            "\(a.attempt)", CSVSink.timestamp(a.attemptedAt), a.status.map(String.init) ?? "-",
                            String(format: "%.1f", a.latencyMilliseconds), a.webhookID, a.error ?? "-",
                            String((a.responseExcerpt ?? "-").prefix(80)).replacingOccurrences(of: "\n", with: " "),
                        ]
                    }), terminator: "")
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send the chosen deliveries that are not delivered again now; failed ones get the whole schedule again.",
            discussion: """
                  postwire deliveries retry 1234 1235
                  postwire deliveries retry --endpoint crm --status failed --since 2d
                """
        )
        @OptionGroup var options: ConfigOption
        @OptionGroup var selection: Selection
        @Argument(help: "Delivery ids; none: every delivery the options select.") var ids: [Int64] = []

        func validate() throws {
            if ids.isEmpty, selection.endpoint == nil, selection.status == nil, selection.since == nil {
                throw ValidationError("say which: delivery ids, or --endpoint / --status / --since")
            }
        }

        func run() async throws {
            let chosen = try selection.selection(ids: ids.isEmpty ? nil : ids)
            let count = try await withStore(label: "postwire.deliveries", configFile: options.config) { store, _, _ in
                try await store.retryDeliveries(chosen)
            }
            print("\(count) deliver\(count == 1 ? "y" : "ies") due now")
        }
    }
}
