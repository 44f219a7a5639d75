import ArgumentParser
import Foundation
import OperatorTools
import PostwireConfig
import RedisSetup
import RedisStreams
import WorkerApp

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Move dead-lettered or quarantined entries back into the events stream.",
        discussion: """
            Each entry moves in one MULTI/EXEC (appended to the events stream, deleted from its origin), \
            and replayed events are counted once, so replaying twice or interrupting a replay loses and \
            doubles nothing. Quarantined requests are normalized again (after a parser fix); one that \
            still fails stays in quarantine and is listed. --since/--until select by when the entry \
            reached the dead-letter or quarantine stream.
            """
    )

    @OptionGroup var options: ConfigOption

    @Option(help: "dead or quarantine.")
    var from: String

    @Option(help: "Only this provider's entries.")
    var provider: String?

    @Option(help: "Only this source's entries.")
    var source: String?

    @Option(help: "Only entries that arrived at or after this time (ISO 8601, e.g. 2026-11-27T10:00:00Z).")
    var since: String?

    @Option(help: "Only entries that arrived at or before this time (ISO 8601).")
    var until: String?

    @Option(help: "At most this many entries.")
    var count: Int?

    @Flag(help: "Say what would move, and move nothing.")
    var dryRun = false

    func run() async throws {
        guard let origin = Replayer.Origin(rawValue: from) else { throw ValidationError("--from must be dead or quarantine") }
        let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.replay", configFile: options.config)
        let redis = RedisClient(
            configuration: try configuration.redis.clientConfiguration(
                password: secrets.redisPassword, sentinelPassword: secrets.redisSentinelPassword),
            logger: logger)
        defer { Task { await redis.close() } }
        let replayer = Replayer(
            redis: redis, layout: configuration.redis.layout, deadLetterStream: configuration.redis.deadLetterStream,
            quarantineStream: configuration.redis.quarantineStream
        )
        let filter = Replayer.Filter(provider: provider, source: source, since: try date(since), until: try date(until), limit: count)
        let outcome = try await replayer.replay(from: origin, filter: filter, dryRun: dryRun, progress: ProgressBar.draw)
        ProgressBar.finish()
        let verb = dryRun ? "would move" : "moved"
        print(
            "scanned \(outcome.scanned), matched \(outcome.matched), \(verb) \(outcome.moved) entr\(outcome.moved == 1 ? "y" : "ies") (\(outcome.events) events)"
        )
        for (id, reason) in outcome.failures.sorted(by: { $0.key < $1.key }) {
            print("  left \(id): \(reason)")
        }
        if !outcome.failures.isEmpty { throw ExitCode(1) }
    }

    private func date(_ text: String?) throws -> Date? {
        guard let text else { return nil }
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else { throw ValidationError("not an ISO 8601 time: \(text)") }
        return date
    }
}

/// A one-line progress bar on standard error, redrawn in place on a terminal.
enum ProgressBar {
    static let isTerminal = isatty(STDERR_FILENO) != 0

    @Sendable static func draw(_ done: Int, _ total: Int) {
        guard isTerminal, total > 0 else { return }
        let width = 30
        let filled = min(width, done * width / max(total, 1))
        let bar = String(repeating: "#", count: filled) + String(repeating: " ", count: width - filled)
        FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total)".utf8))
    }

    static func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
