import ArgumentParser
import EventStore
import Foundation
import WorkerApp

struct Suppressions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the suppression list, or check one address.",
        subcommands: [Export.self, Check.self]
    )

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the suppressed addresses as CSV, for loading into a sending system.",
            discussion: """
                Columns: address, reason (complaint, hard_bounce, soft_bounces, unsubscribe), suppressed_at \
                (UTC, ISO 8601), provider, source, event_key, detail; with --all also lifted_at (addresses \
                whose unsubscribe a later re-subscribe lifted; they may be mailed again).
                """
        )
        @OptionGroup var options: ConfigOption
        @Option(name: .shortAndLong, help: "Write to this file instead of standard output.")
        var output: String?
        @Option(help: "Only this reason.")
        var reason: String?
        @Flag(help: "Include lifted suppressions (with a lifted_at column).")
        var all = false

        func validate() throws {
            if let reason, !["complaint", "hard_bounce", "soft_bounces", "unsubscribe"].contains(reason) {
                throw ValidationError("--reason must be complaint, hard_bounce, soft_bounces or unsubscribe")
            }
        }

        func run() async throws {
            let (output, reason, all) = (output, reason, all)
            let count = try await withStore(label: "postwire.suppressions", configFile: options.config) { store, _, _ in
                let sink = try CSVSink(path: output)
                var header = ["address", "reason", "suppressed_at", "provider", "source", "event_key", "detail"]
                if all { header.append("lifted_at") }
                sink.write(header)
                var count = 0
                try await store.suppressions(includeLifted: all, reason: reason) { row in
                    var fields = [
                        row.address, row.reason, CSVSink.timestamp(row.suppressedAt), row.provider, row.source, row.eventKey,
                        row.detail ?? "",
                    ]
                    if all { fields.append(row.liftedAt.map(CSVSink.timestamp) ?? "") }
                    sink.write(fields)
                    count += 1
                }
                sink.close()
                return count
            }
            FileHandle.standardError.write(
                Data("exported \(count) suppression\(count == 1 ? "" : "s")\(output.map { " to \($0)" } ?? "")\n".utf8))
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Say whether an address is suppressed, why and since when.",
            discussion: "Exit status: 0 when the address may be mailed, 1 when it is suppressed."
        )
        @OptionGroup var options: ConfigOption
        @Argument(help: "The email address (case does not matter).")
        var address: String

        func run() async throws {
            let address = address
            let found = try await withStore(label: "postwire.suppressions", configFile: options.config) { store, _, _ in
                try await store.suppression(of: address)
            }
            guard let found else {
                print("\(address.lowercased()): not suppressed")
                return
            }
            if let lifted = found.liftedAt {
                print(
                    "\(found.address): not suppressed (unsubscribed \(CSVSink.timestamp(found.suppressedAt)), re-subscribed \(CSVSink.timestamp(lifted)))"
                )
                return
            }
            print(
                "\(found.address): suppressed since \(CSVSink.timestamp(found.suppressedAt)), \(found.reason.replacingOccurrences(of: "_", with: " "))"
                    + "\(found.detail.map { " (\($0))" } ?? ""), from \(found.provider)/\(found.source) event \(found.eventKey)")
            throw ExitCode(1)
        }
    }
}

/// RFC 4180 CSV to a file or standard output.
final class CSVSink: @unchecked Sendable {
    private let handle: FileHandle
    private var buffer = ""

    init(path: String?) throws {
        if let path {
            guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
                throw ValidationError("cannot write \(path)")
            }
            self.handle = handle
        } else {
            handle = FileHandle.standardOutput
        }
    }

    func write(_ fields: [String]) {
        buffer += fields.map(Self.quoted).joined(separator: ",") + "\r\n"
        if buffer.utf8.count > 64 * 1024 { flush() }
    }

    func close() {
        flush()
        if handle !== FileHandle.standardOutput { try? handle.close() }
    }

    private func flush() {
        handle.write(Data(buffer.utf8))
        buffer = ""
    }

    static func quoted(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
