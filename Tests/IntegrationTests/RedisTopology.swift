import Foundation
import PostwireConfig
import RedisSetup
import RedisStreams
import Testing

/// A real Redis Cluster or Sentinel set-up made by Scripts/redis-topology for one test, on its own
/// ports, stopped (SIGKILL) when the test ends.
struct RedisTopology: Sendable {
    let directory: String
    /// The cluster's six nodes, or the sentinels.
    let seeds: [String]
    /// The data nodes' password and the sentinels' (nil: none).
    let password: String?
    let sentinelPassword: String?

    static func with<T: Sendable>(
        _ kind: String, port: Int, password: String? = nil, sentinelPassword: String? = nil,
        _ body: @Sendable (RedisTopology) async throws -> T
    ) async throws -> T {
        let directory = NSTemporaryDirectory() + "postwire-\(kind)-\(port)"
        let environment = scriptEnvironment(password: password, sentinelPassword: sentinelPassword)
        let output = try await run(script, [kind, directory, "\(port)"], environment: environment)
        let topology = RedisTopology(
            directory: directory, seeds: output.split(separator: "\n").map(String.init), password: password,
            sentinelPassword: sentinelPassword)
        do {
            let result = try await body(topology)
            _ = try? await run(script, ["stop", directory])
            return result
        } catch {
            _ = try? await run(script, ["stop", directory])
            throw error
        }
    }

    private static func scriptEnvironment(password: String?, sentinelPassword: String?) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["POSTWIRE_TOPOLOGY_PASSWORD"] = password ?? ""
        environment["POSTWIRE_TOPOLOGY_SENTINEL_PASSWORD"] = sentinelPassword ?? ""
        return environment
    }

    /// The tests' ESP secrets and this set-up's Redis passwords, as an ingress or a worker gets them.
    var environment: [String: String] {
        var environment = PipelineTests.environment
        if let password { environment["POSTWIRE_REDIS_PASSWORD"] = password }
        if let sentinelPassword { environment["POSTWIRE_REDIS_SENTINEL_PASSWORD"] = sentinelPassword }
        return environment
    }

    /// Starts the data node on `port` again, with its data (an orchestrator restarting it).
    func restart(port: Int) async throws {
        _ = try await Self.run(
            Self.script, ["restart", directory, "\(port)"],
            environment: Self.scriptEnvironment(password: password, sentinelPassword: sentinelPassword))
    }

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Scripts/redis-topology").path

    /// `redis-cli --cluster reshard`: moves `slots` slots (the lowest first) from the master on
    /// `from` to the master on `to`, keys and all, while clients keep using them.
    func reshard(from: Int, to: Int, slots: Int) async throws -> String {
        var environment = ProcessInfo.processInfo.environment
        if let password { environment["REDISCLI_AUTH"] = password }
        let source = try await Self.run("/usr/bin/redis-cli", ["-p", "\(from)", "cluster", "myid"], environment: environment)
        let target = try await Self.run("/usr/bin/redis-cli", ["-p", "\(to)", "cluster", "myid"], environment: environment)
        return try await Self.run(
            "/usr/bin/redis-cli",
            [
                "--cluster", "reshard", "127.0.0.1:\(from)", "--cluster-from", source, "--cluster-to", target,
                "--cluster-slots", "\(slots)", "--cluster-yes", "--cluster-pipeline", "100",
            ], environment: environment)
    }

    /// SIGKILLs the server on `port` (its pid file is the daemon's own).
    func kill(port: Int) throws {
        let pid = try String(contentsOfFile: "\(directory)/\(port)/redis.pid", encoding: .utf8)
        #expect(Foundation.kill(pid_t(pid.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0, SIGKILL) == 0)
    }

    /// Runs `executable` to the end (posix_spawn, as every child of the tests: Foundation's
    /// `Process.waitUntilExit` can hang off the main thread); its standard output. A failure throws
    /// with its standard error. The output goes to files: the daemons it starts outlive it.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) async throws -> String {
        let base = NSTemporaryDirectory() + "postwire-topology-\(UUID().uuidString)"
        defer {
            try? FileManager.default.removeItem(atPath: base + ".out")
            try? FileManager.default.removeItem(atPath: base + ".err")
        }
        let child = try ChildProcess.spawn(
            executable, arguments, environment: environment, logPath: base + ".err", stdoutPath: base + ".out")
        let status = try await child.wait(timeout: .seconds(120))
        let output = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
        guard status.exited, status.code == 0 else {
            let errors = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
            throw TopologyError("\(executable) \(arguments.joined(separator: " ")): \(errors)")
        }
        return output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct TopologyError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }
}

extension RedisTopology {
    /// `configuration` pointed at this cluster, with `shards` events streams.
    func cluster(_ configuration: PostwireConfiguration, shards: Int) -> PostwireConfiguration {
        var configuration = configuration
        configuration.redis.topology = "cluster"
        configuration.redis.clusterNodes = Array(seeds.prefix(3))
        configuration.redis.streamShards = shards
        return configuration
    }

    func sentinel(_ configuration: PostwireConfiguration) -> PostwireConfiguration {
        var configuration = configuration
        configuration.redis.topology = "sentinel"
        configuration.redis.sentinels = seeds
        configuration.redis.masterName = "postwire"
        return configuration
    }

    /// A client for the test's own reads, with the configuration's topology and this set-up's passwords.
    func client(_ configuration: PostwireConfiguration) throws -> RedisClient {
        RedisClient(
            configuration: try configuration.redis.clientConfiguration(
                password: password, sentinelPassword: sentinelPassword, connections: 2),
            logger: TestEnvironment.logger)
    }

    /// Entries ever appended to each events stream (XINFO STREAM `entries-added`; housekeeping
    /// may already have trimmed acknowledged ones), in shard order.
    static func entriesAdded(_ redis: RedisClient, _ layout: StreamLayout) async throws -> [Int] {
        var added: [Int] = []
        for stream in layout.streams {
            let fields = try await redis.send(RedisCommand("XINFO", ["STREAM", RESPArgument(stream)]), routedBy: stream).array ?? []
            let index = try #require(fields.firstIndex { $0.string == "entries-added" })
            added.append(Int(fields[index + 1].integer ?? -1))
        }
        return added
    }

    /// Waits until every shard's entries were delivered to the group and acknowledged.
    static func waitUntilDrained(
        _ redis: RedisClient, _ configuration: PostwireConfiguration, timeout: Duration = .seconds(60)
    ) async throws {
        for stream in configuration.redis.layout.streams {
            try await TestEnvironment.eventually(timeout: timeout, "\(stream) drained") {
                guard let group = try? await redis.groups(stream).first(where: { $0.name == configuration.worker.group }) else {
                    return false
                }
                return group.pending == 0 && group.backlog == 0
            }
        }
    }
}
