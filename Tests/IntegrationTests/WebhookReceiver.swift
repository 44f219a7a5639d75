import DispatcherApp
import Foundation
import PostwireConfig
import ServiceLifecycle
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A real HTTP receiver in its own process: Scripts/webhook-receiver, which verifies every request
/// with the PyPI `standardwebhooks` package and checks its body against the published JSON Schema
/// with PyPI `jsonschema` (Scripts/test installs both), and logs one JSON line each.
final class WebhookReceiver: Sendable {
    struct Request: Sendable {
        var at: Date
        var webhookID: String
        var verifiedBy: [Int]
        /// The body ended short of its Content-Length: the sender died mid-request.
        var torn: Bool
        /// Where the body breaks docs/webhook-payload.schema.json (PyPI jsonschema).
        var schemaErrors: [String]
        var answered: Int?
        var events: [String]
        var types: [String]
        var data: [[String: String]]
    }

    let process: ChildProcess
    let port: Int
    let logPath: String

    var url: String { "http://127.0.0.1:\(port)/hooks" }

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `options`: the script's misbehaviours (`--fail-for`, `--status`, `--hang`, …).
    static func start(secrets: [String], _ options: [String] = []) async throws -> WebhookReceiver {
        let tag = TestEnvironment.unique("receiver")
        let ready = "/tmp/\(tag).port"
        let log = "/tmp/\(tag).jsonl"
        var environment = ProcessInfo.processInfo.environment
        let tools = root.appendingPathComponent(".postwire/tools/python").path
        environment["PYTHONPATH"] = tools + (environment["PYTHONPATH"].map { ":" + $0 } ?? "")
        let arguments =
            [
                root.appendingPathComponent("Scripts/webhook-receiver").path, "--port", "0", "--ready-file", ready, "--log", log,
                "--schema", root.appendingPathComponent("docs/webhook-payload.schema.json").path,
            ]
            + secrets.flatMap { ["--secret", $0] } + options
        let process = try ChildProcess.spawn("/usr/bin/env", ["python3"] + arguments, environment: environment, logPath: log + ".err")
        var port: Int?
        try await TestEnvironment.eventually(timeout: .seconds(20), "the receiver listens") {
            if process.poll() != nil {
                let why = (try? String(contentsOfFile: log + ".err", encoding: .utf8)) ?? ""
                Issue.record("the receiver exited: \(why)")
                throw CancellationError()
            }
            port = (try? String(contentsOfFile: ready, encoding: .utf8)).flatMap { Int($0) }
            return port != nil
        }
        return WebhookReceiver(process: process, port: port!, logPath: log)
    }

    private init(process: ChildProcess, port: Int, logPath: String) {
        self.process = process
        self.port = port
        self.logPath = logPath
    }

    /// Every request so far, in arrival order.
    func requests() -> [Request] {
        guard let text = try? String(contentsOfFile: logPath, encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Request(
                at: Date(timeIntervalSince1970: object["at"] as? Double ?? 0), webhookID: object["webhook_id"] as? String ?? "",
                verifiedBy: object["verified_by"] as? [Int] ?? [], torn: object["torn"] as? Bool ?? false,
                schemaErrors: object["schema_errors"] as? [String] ?? ["not logged"],
                answered: object["answered"] as? Int,
                events: object["events"] as? [String] ?? [], types: object["types"] as? [String] ?? [],
                data: (object["data"] as? [[String: Any]] ?? []).map { $0.mapValues { "\($0)" } })
        }
    }

    /// The event ids of the requests it answered 2xx, with how often each came.
    func acceptedEvents() -> [String: Int] {
        var counts: [String: Int] = [:]
        for request in requests() where (request.answered ?? 0) / 100 == 2 {
            for event in request.events { counts[event, default: 0] += 1 }
        }
        return counts
    }

    func stop() async {
        process.signal(SIGKILL)
        _ = try? await process.wait()
        for path in [logPath, logPath + ".err"] { try? FileManager.default.removeItem(atPath: path) }
    }
}

enum DispatcherHarness {
    /// Settings that make the tests' waits short: a quick poll and refresh, a short timeout.
    static func configure(_ configuration: inout PostwireConfiguration) {
        configuration.dispatcher.pollIntervalMilliseconds = 50
        configuration.dispatcher.endpointRefreshMilliseconds = 200
        configuration.dispatcher.requestTimeoutMilliseconds = 2000
        configuration.dispatcher.connectTimeoutMilliseconds = 1000
        configuration.dispatcher.metricsPort = -1
    }

    /// A dispatcher in the test process for the duration of `body`.
    static func withDispatcher<T: Sendable>(
        _ configuration: PostwireConfiguration, environment: [String: String] = [:], _ body: @Sendable () async throws -> T
    ) async throws -> T {
        var environment = environment
        environment["POSTWIRE_POSTGRES_PASSWORD"] = TestEnvironment.postgresPassword
        let group = try DispatcherAssembly.buildServiceGroup(
            configuration: configuration, secrets: Secrets(environment: environment), logger: TestEnvironment.logger)
        return try await Harness.running(group, body)
    }

    /// A real `postwire-dispatcher` process.
    static func spawn(_ configuration: PostwireConfiguration, _ extra: [String: String] = [:]) throws -> ChildProcess {
        try ChildProcess.spawn(
            TestEnvironment.binDirectory.appendingPathComponent("postwire-dispatcher").path, [],
            environment: TestEnvironment.childEnvironment(configuration, extra))
    }
}
