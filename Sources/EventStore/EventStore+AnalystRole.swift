import Logging
import PostgresNIO

/// The read-only role analysts log in as (docs/ANALYTICS.md). Roles belong to the whole cluster,
/// so creating one needs `CREATEROLE`, which the owner of a database often lacks (a managed
/// database's owner role, a team's own database): `postwire migrate` then grants read access to a
/// role someone else made, or says what to run, and the schema is migrated either way.
extension EventStore {
    /// The tables and views the analyst role may read.
    static let analystReadable = [
        "email_events", "event_counts_hourly", "domain_counts_hourly", "unique_counts_hourly", "message_status",
        "recipient_engagement", "suppressions", "processing_stats_hourly", "processing_delay_hourly", "alerts", "daily_counts",
        "daily_rates", "recipient_engagement_scores", "active_suppressions", "processing_stats",
        // Not webhook_endpoints: it holds the signing secrets.
        "webhook_deliveries", "webhook_attempts", "webhook_alerts",
    ]

    public enum AnalystRoleOutcome: Sendable, Equatable {
        /// The role exists (made now or before) and may read every table and view.
        case granted(created: Bool)
        /// The role does not exist and this user may not create it; `sql` is what a superuser (or a
        /// role with CREATEROLE) runs before `postwire migrate` is run again.
        case skipped(sql: String)
    }

    /// Creates `role` when it is missing and this user may, then grants it read access. Idempotent.
    public func grantAnalystRole(_ role: String = "postwire_analyst") async throws(EventStoreError) -> AnalystRoleOutcome {
        guard role.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }), !role.isEmpty else {
            throw EventStoreError(.rejected, "the analyst role name must be letters, digits and underscores: \(role)")
        }
        do {
            return try await client.withTransaction(logger: logger) { connection in
                // Serialized with every other migrate of this cluster: concurrent GRANTs on one
                // object fail with "tuple concurrently updated".
                try await connection.query("SELECT pg_advisory_xact_lock(7061638)", logger: logger)
                var created = false
                if try await !Self.roleExists(role, on: connection, logger: logger) {
                    guard try await Self.mayCreateRoles(on: connection, logger: logger) else {
                        return .skipped(sql: "CREATE ROLE \(role) LOGIN PASSWORD '…';")
                    }
                    // Roles belong to the cluster and the lock above to this database: another
                    // database's migrate may create the role at the same moment.
                    try await connection.query(
                        PostgresQuery(
                            unsafeSQL: """
                                DO $$ BEGIN CREATE ROLE \(role) LOGIN;
                                EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
                                """), logger: logger)
                    created = true
                }
                try await connection.query(PostgresQuery(unsafeSQL: "GRANT USAGE ON SCHEMA public TO \(role)"), logger: logger)
                try await connection.query(
                    PostgresQuery(unsafeSQL: "GRANT SELECT ON \(Self.analystReadable.joined(separator: ", ")) TO \(role)"), logger: logger)
                return .granted(created: created)
            }
        } catch {
            throw EventStoreError.from(error)
        }
    }

    private static func roleExists(_ role: String, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = \(role))", logger: logger)
            .decode(Bool.self).first { _ in true } ?? false
    }

    private static func mayCreateRoles(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        try await connection.query("SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user", logger: logger)
            .decode(Bool.self).first { _ in true } ?? false
    }
}
