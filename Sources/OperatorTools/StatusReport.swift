import EventStore
import Foundation
import RedisStreams

/// What `postwire status` shows: per events stream its length, each group's pending entries, lag
/// and oldest pending age, each consumer's pending count and idle time; the dead-letter and
/// quarantine sizes; and the events stored in the last hour.
public struct StatusReport: Sendable {
    public struct Group: Sendable {
        public var stream: String
        public var name: String
        public var pending: Int64
        /// Entries not yet delivered (``RedisClient/GroupInfo/backlog``); nil when Redis cannot tell.
        public var lag: Int64?
        public var oldestPendingSeconds: Double?
        public var consumers: [RedisClient.ConsumerInfo]
    }

    public var time: Date
    public var streams: [(name: String, length: Int)] = []
    /// The server holding each events stream (on a cluster, its slot's master).
    public var nodes: [String: RedisNode] = [:]
    public var groups: [Group] = []
    public var deadLetters: (name: String, length: Int) = ("", 0)
    public var quarantined: (name: String, length: Int) = ("", 0)
    /// Events stored in the hour before `time`, by provider; nil when PostgreSQL did not answer.
    public var storedLastHour: [String: Int]?
    public var storeError: String?
    /// Why Redis could not be read (then only the PostgreSQL line is shown).
    public var redisError: String?

    /// Reads what it can within `timeout` each: an unreachable Redis or PostgreSQL is reported in
    /// the report (``redisError``, ``storeError``), never waited on longer, never thrown.
    public static func gather(
        redis: RedisClient, store: EventStore?, layout: StreamLayout, deadLetterStream: String, quarantineStream: String,
        now: Date = Date(), timeout: Duration = .seconds(5)
    ) async -> StatusReport {
        var report = StatusReport(time: now)
        do {
            report = try await firstResult(within: timeout, what: "Redis") {
                try await readRedis(
                    redis: redis, layout: layout, deadLetterStream: deadLetterStream, quarantineStream: quarantineStream, now: now)
            }
        } catch {
            report.redisError = "\(error)"
        }
        if let store {
            do {
                report.storedLastHour = try await firstResult(within: timeout, what: "PostgreSQL") {
                    try await store.storedSince(now.addingTimeInterval(-3600))
                }
            } catch {
                report.storeError = "\(error)"
            }
        }
        return report
    }

    private static func readRedis(
        redis: RedisClient, layout: StreamLayout, deadLetterStream: String, quarantineStream: String, now: Date
    ) async throws(RedisError) -> StatusReport {
        var report = StatusReport(time: now)
        let nowMilliseconds = Int64(now.timeIntervalSince1970 * 1000)
        for stream in layout.streams {
            report.streams.append((stream, try await redis.xlen(stream)))
            for group in try await redis.groups(stream) {
                let summary = try await redis.pendingSummary(stream, group: group.name)
                let oldest = summary.smallestId.flatMap(StreamEntry.milliseconds(ofId:))
                report.groups.append(
                    Group(
                        stream: stream, name: group.name, pending: group.pending, lag: group.backlog,
                        oldestPendingSeconds: oldest.map { Double(max(0, nowMilliseconds - $0)) / 1000 },
                        consumers: try await redis.consumers(stream, group: group.name)))
            }
        }
        report.deadLetters = (deadLetterStream, try await total(layout.all(deadLetterStream), redis))
        report.quarantined = (quarantineStream, try await total(layout.all(quarantineStream), redis))
        for stream in layout.streams {
            report.nodes[stream] = try await redis.node(for: stream)
        }
        return report
    }

    private static func total(_ streams: [String], _ redis: RedisClient) async throws(RedisError) -> Int {
        var total = 0
        for stream in streams { total += try await redis.xlen(stream) }
        return total
    }

    /// A plain-text table for a terminal.
    public func render() -> String {
        var out = "Postwire status at \(Self.timestamp(time))\n\n"
        if let redisError {
            out += "redis: unreadable (\(redisError))\n"
            out += "stored in the last hour: " + storedLine + "\n"
            return out
        }
        out += TextTable.render(
            ["STREAM", "NODE", "LENGTH", "GROUP", "PENDING", "LAG", "OLDEST PENDING"],
            streams.flatMap { stream -> [[String]] in
                let own = groups.filter { $0.stream == stream.name }
                let node = nodes[stream.name].map(\.description) ?? "?"
                guard !own.isEmpty else { return [[stream.name, node, Self.number(stream.length), "(no group)", "", "", ""]] }
                return own.map { group in
                    [
                        stream.name, node, Self.number(stream.length), group.name, Self.number(Int(group.pending)),
                        group.lag.map { Self.number(Int($0)) } ?? "?", group.oldestPendingSeconds.map(Self.age) ?? "-",
                    ]
                }
            })
        let consumers = groups.flatMap { group in group.consumers.map { (group.stream, $0) } }
        if !consumers.isEmpty {
            out += "\n"
            out += TextTable.render(
                ["CONSUMER", "STREAM", "PENDING", "IDLE"],
                consumers.map { [$0.1.name, $0.0, Self.number(Int($0.1.pending)), Self.age(Double($0.1.idleMilliseconds) / 1000)] })
        }
        out += "\n"
        out += TextTable.render(
            ["HELD ASIDE", "STREAM", "ENTRIES"],
            [
                ["dead letters", deadLetters.name, Self.number(deadLetters.length)],
                ["quarantine", quarantined.name, Self.number(quarantined.length)],
            ])
        out += "\n"
        out += "stored in the last hour: " + storedLine + "\n"
        return out
    }

    /// Whether every part was read.
    public var isComplete: Bool { redisError == nil && storeError == nil }

    private var storedLine: String {
        guard let stored = storedLastHour else { return "unknown (\(storeError ?? "no database configured"))" }
        let total = stored.values.reduce(0, +)
        let parts = stored.sorted { $0.key < $1.key }.map { "\($0.key) \(Self.number($0.value))" }.joined(separator: ", ")
        return "\(Self.number(total)) events"
            + (total > 0 ? " (\(parts)), \(String(format: "%.2f", Double(total) / 3600))/s on average" : "")
    }

    static func number(_ value: Int) -> String {
        let digits = String(abs(value))
        var grouped = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { grouped += "," }
            grouped.append(character)
        }
        return (value < 0 ? "-" : "") + grouped
    }

    static func age(_ seconds: Double) -> String {
        switch seconds {
        case ..<60: String(format: "%.1f s", seconds)
        case ..<3600: String(format: "%.1f min", seconds / 60)
        default: String(format: "%.1f h", seconds / 3600)
        }
    }

    static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
