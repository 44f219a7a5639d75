import ArgumentParser
import EventStore
import PostgresNIO
import PostgresSetup
import PostwireConfig
import WorkerApp

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create or upgrade the PostgreSQL schema. Idempotent; safe to run from several hosts at once."
    )

    @OptionGroup var options: ConfigOption

    func run() async throws {
        let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.migrate", configFile: options.config)
        // The client may log that a lease waits for `run()` to start: true, and not worth a warning here.
        var background = logger
        background.logLevel = .error
        let client = PostgresClient(
            configuration: configuration.postgres.clientConfiguration(password: secrets.postgresPassword),
            backgroundLogger: background
        )
        let store = EventStore(client: client, logger: logger, policy: try configuration.analytics.policy())
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let applied = try await store.migrate()
            let version = try await store.schemaVersion()
            switch try await store.grantAnalystRole() {
            case .granted:
                if let password = secrets.analystPassword {
                    do {
                        try await store.setAnalystPassword(password)
                        print("set the password of the read-only role postwire_analyst (POSTWIRE_ANALYST_PASSWORD)")
                    } catch {
                        guard (error as? EventStoreError)?.sqlState == "42501" else { throw error }
                        print(
                            "POSTWIRE_ANALYST_PASSWORD not applied: \(configuration.postgres.user) may not change roles (no CREATEROLE); "
                                + "whoever made postwire_analyst sets its password")
                    }
                }
            case .skipped(let sql):
                print(
                    """
                    skipped the read-only role postwire_analyst: it does not exist and \(configuration.postgres.user) may not create roles \
                    (no CREATEROLE). To give analysts their role, run as a superuser: \(sql) then `postwire migrate` again; \
                    it grants the role read access.
                    """)
            }
            print(
                applied.isEmpty
                    ? "schema is up to date (version \(version))"
                    : "applied migration(s) \(applied.map(String.init).joined(separator: ", ")); schema is at version \(version)")
        }
    }
}
