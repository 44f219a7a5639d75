import EmailEvents
import Foundation
import Logging
import PostgresNIO

/// PostgreSQL: migrations and the batch write. Knows nothing of ESPs.
///
/// The client must be running (`PostgresClient.run()` in the service group) for any call here to
/// proceed.
public struct EventStore: Sendable {
    public let client: PostgresClient
    let logger: Logger
    public let policy: AnalyticsPolicy

    public init(client: PostgresClient, logger: Logger, policy: AnalyticsPolicy = AnalyticsPolicy()) {
        self.client = client
        self.logger = logger
        self.policy = policy
    }

    /// The latest schema version this build knows.
    public static var latestVersion: Int { Migrations.all.last?.version ?? 0 }

    /// Applies the steps not yet applied, in order; returns their versions. Safe to run from
    /// several processes at once: an advisory lock serializes them.
    /// `through`: stop after that version (tests of an upgrade path); nil: all.
    /// Then grants the read-only analyst role access (``grantAnalystRole(_:)``; logged when skipped).
    @discardableResult
    public func migrate(through last: Int? = nil) async throws(EventStoreError) -> [Int] {
        let applied = try await applyMigrations(through: last)
        // The role reads the latest schema's tables: an upgrade stopped halfway grants nothing yet.
        guard (last ?? Int.max) >= Self.latestVersion else { return applied }
        try await installMailboxProviders(policy.mailboxProviders)
        if case .skipped(let sql) = try await grantAnalystRole() {
            logger.notice("the analyst role does not exist and this user may not create it", metadata: ["run": "\(sql)"])
        }
        return applied
    }

    private func applyMigrations(through last: Int?) async throws(EventStoreError) -> [Int] {
        do {
            return try await client.withConnection { connection in
                try await connection.query("SELECT pg_advisory_lock(7061637)", logger: logger)  // "pac"
                do {
                    let applied = try await applyPending(on: connection, through: last ?? Int.max)
                    try await connection.query("SELECT pg_advisory_unlock(7061637)", logger: logger)
                    return applied
                } catch {
                    _ = try? await connection.query("SELECT pg_advisory_unlock(7061637)", logger: logger)
                    throw error
                }
            }
        } catch {
            throw EventStoreError.from(error)
        }
    }

    private func applyPending(on connection: PostgresConnection, through last: Int) async throws -> [Int] {
        try await connection.query(
            """
            CREATE TABLE IF NOT EXISTS postwire_migrations (
                version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
            """,
            logger: logger
        )
        var done = Set<Int>()
        for try await version in try await connection.query("SELECT version FROM postwire_migrations", logger: logger)
            .decode(Int.self)
        {
            done.insert(version)
        }
        var applied: [Int] = []
        for step in Migrations.all where !done.contains(step.version) && step.version <= last {
            try await connection.query("BEGIN", logger: logger)
            do {
                for statement in step.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(
                    "INSERT INTO postwire_migrations (version, name) VALUES (\(step.version), \(step.name))",
                    logger: logger
                )
                try await connection.query("COMMIT", logger: logger)
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: logger)
                throw error
            }
            logger.info("applied migration", metadata: ["version": "\(step.version)", "name": "\(step.name)"])
            applied.append(step.version)
        }
        return applied
    }

    /// The schema version the database is at (0 before the first migration).
    public func schemaVersion() async throws(EventStoreError) -> Int {
        do {
            let exists =
                try await client.query("SELECT to_regclass('postwire_migrations') IS NOT NULL", logger: logger)
                .decode(Bool.self).first { _ in true } ?? false
            guard exists else { return 0 }
            return try await client.query("SELECT coalesce(max(version), 0) FROM postwire_migrations", logger: logger)
                .decode(Int.self).first { _ in true } ?? 0
        } catch {
            throw EventStoreError.from(error)
        }
    }
}

extension EventStore {
    /// Throws ``EventStoreError/Code/unavailable`` unless PostgreSQL answers now.
    public func ping() async throws(EventStoreError) {
        do {
            try await client.query("SELECT 1", logger: logger)
        } catch {
            throw EventStoreError.from(error)
        }
    }
}
