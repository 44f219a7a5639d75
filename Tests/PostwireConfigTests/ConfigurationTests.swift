import Foundation
import Testing

@testable import PostwireConfig

@Suite struct ConfigurationTests {
    static let committedFile = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Config/postwire.json").path

    @Test func committedFileStatesExactlyTheDefaults() throws {
        let fromFile = try ConfigurationLoader.load(file: Self.committedFile, environment: [:])
        #expect(fromFile == PostwireConfiguration())
        // And it spells out every key, so it documents them all.
        let data = try #require(FileManager.default.contents(atPath: Self.committedFile))
        let tree = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let defaults = ConfigurationLoader.defaultsTree()
        for (section, value) in defaults {
            if let keys = (value as? [String: Any])?.keys {
                #expect(Set(keys) == Set(((tree[section] as? [String: Any]) ?? [:]).keys), "section \(section)")
            }
        }
    }

    /// `environment(for:)` is the inverse of loading: a configuration survives the round trip, and
    /// the defaults need no variable at all.
    @Test func aConfigurationRoundTripsThroughItsEnvironment() throws {
        #expect(ConfigurationLoader.environment(for: PostwireConfiguration()).isEmpty)
        var configuration = PostwireConfiguration()
        configuration.redis.port = 16_380
        configuration.redis.stream = "postwire:t:events"
        configuration.ingress.trustedProxies = ["10.0.0.0/8"]
        configuration.ingress.metricsPort = -1
        configuration.worker.lingerMilliseconds = 0
        configuration.analytics.complaintRateThreshold = 0.0025
        configuration.analytics.dropClientDetails = true
        configuration.analytics.machineNetworks = [MachineNetwork(name: "apple_mpp", ranges: ["17.0.0.0/8"], events: ["opened"])]
        configuration.sources = [SourceSettings(provider: "mailgun", name: "eu", replayWindowSeconds: 60)]
        let environment = ConfigurationLoader.environment(for: configuration)
        #expect(environment["POSTWIRE_REDIS_PORT"] == "16380" && environment["POSTWIRE_INGRESS_METRICS_PORT"] == "-1")
        #expect(environment["POSTWIRE_ANALYTICS_DROP_CLIENT_DETAILS"] == "true")
        #expect(environment["POSTWIRE_ANALYTICS_KNOWN_MACHINE_USER_AGENTS"] == nil, "a default needs no variable")
        #expect(try ConfigurationLoader.load(environment: environment) == configuration)
    }

    @Test func environmentOverridesFileOverridesDefaults() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("postwire-\(UUID()).json").path
        try Data(#"{"redis": {"port": 7000, "stream": "custom"}, "worker": {"batchSize": 50}}"#.utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let configuration = try ConfigurationLoader.load(
            file: file,
            environment: [
                "POSTWIRE_REDIS_PORT": "7001",
                "POSTWIRE_WORKER_CLAIM_MIN_IDLE_MILLISECONDS": "1234",
                "POSTWIRE_SOURCES": #"[{"provider":"mailgun","name":"eu","replayWindowSeconds":60}]"#,
            ])
        #expect(configuration.redis.port == 7001)
        #expect(configuration.redis.stream == "custom")
        #expect(configuration.worker.batchSize == 50)
        #expect(configuration.worker.claimMinIdleMilliseconds == 1234)
        #expect(configuration.sources == [SourceSettings(provider: "mailgun", name: "eu", replayWindowSeconds: 60)])
        #expect(configuration.postgres == PostgresSettings())
    }

    @Test func mistakesAreClearErrors() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("postwire-\(UUID()).json").path
        try Data(#"{"redis": {"prot": 7000}}"#.utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(file: file, environment: [:]) }
        do {
            _ = try ConfigurationLoader.load(file: file, environment: [:])
        } catch {
            #expect(error.message == "unknown configuration key redis.prot")
        }
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(environment: ["POSTWIRE_REDIS_PORT": "six"]) }
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(file: "/nonexistent.json", environment: [:]) }
    }

    @Test func variableNames() {
        #expect(ConfigurationLoader.variableName(section: "ingress", key: "maxBodyBytes") == "POSTWIRE_INGRESS_MAX_BODY_BYTES")
        #expect(SourceSettings(provider: "mailgun", name: "eu-main").secretVariable == "POSTWIRE_SECRET_MAILGUN_EU_MAIN")
    }

    @Test func secretsComeFromTheEnvironmentOrFilesAndAreNeverPrinted() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID())").path
        try Data("from-file\n".utf8).write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        let secrets = Secrets(environment: [
            "POSTWIRE_SECRET_MAILGUN_DEFAULT": "old-key, new-key",
            "POSTWIRE_POSTGRES_PASSWORD_FILE": file,
        ])
        #expect(secrets.sourceSecrets(SourceSettings(provider: "mailgun", name: "default")) == ["old-key", "new-key"])
        #expect(secrets.sourceSecrets(SourceSettings(provider: "sendgrid", name: "default")) == [])
        #expect(secrets.postgresPassword == "from-file")
        #expect(!"\(secrets)".contains("key"))
    }
}
