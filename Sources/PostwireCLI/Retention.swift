import ArgumentParser
import EventStore
import Foundation
import PostwireConfig
import WorkerApp

struct Retention: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drop raw events older than analytics.retentionDays (whole monthly partitions).",
        discussion: """
            Drops the monthly partitions of email_events that end before the cutoff, deletes older \
            rows of the default partition and forgets their event keys. Rollups, message timelines, \
            engagement, suppressions and alerts are kept. Run it daily (cron, or a compose job).
            """
    )

    @OptionGroup var options: ConfigOption

    @Flag(help: "Only say what would be removed.")
    var dryRun = false

    func run() async throws {
        let dryRun = dryRun
        let (outcome, cutoff) = try await withStore(label: "postwire.retention", configFile: options.config) { store, configuration, _ in
            let cutoff = Date().addingTimeInterval(-Double(configuration.analytics.retentionDays) * 86400)
            return (try await store.applyRetention(cutoff: cutoff, dryRun: dryRun), cutoff)
        }
        let verb = dryRun ? "would drop" : "dropped"
        print("cutoff \(CSVSink.timestamp(cutoff)) (analytics.retentionDays)")
        print(
            "\(verb) \(outcome.droppedPartitions.count) partition\(outcome.droppedPartitions.count == 1 ? "" : "s")"
                + (outcome.droppedPartitions.isEmpty ? "" : ": \(outcome.droppedPartitions.joined(separator: ", "))"))
        print(
            "\(dryRun ? "would delete" : "deleted") \(outcome.deletedDefaultRows) older rows of email_events_default, \(outcome.deletedKeys) event keys"
        )
    }
}
