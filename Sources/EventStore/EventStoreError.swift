import PostgresNIO

/// The one error type of EventStore. The worker decides what to do by `code`: `unavailable`
/// means "back off and keep the entries pending", `rejected` means the data itself was refused.
public struct EventStoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// PostgreSQL could not be reached, the connection broke, or the transaction was rolled back
        /// for a reason that passes (deadlock, serialization, timeout, shutdown): nothing was
        /// committed, and retrying the same batch later succeeds.
        case unavailable
        /// PostgreSQL refused the data: retrying the same batch fails again, so the worker isolates
        /// the events refused on their own and dead-letters only those.
        case rejected
        /// The deployment is wrong (authentication, missing database, table or privilege, a
        /// statement this server does not support): every event would fail alike, so nothing is
        /// dead-lettered; the worker retries until an operator fixes it.
        case server
    }

    public var code: Code
    public var message: String
    /// The SQLSTATE for server errors (`22P02`, `23505`, …).
    public var sqlState: String?

    public init(_ code: Code, _ message: String, sqlState: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
    }

    public var description: String { "postgres \(code.rawValue)\(sqlState.map { " \($0)" } ?? ""): \(message)" }

    /// A refusal by a constraint (class 23: NOT NULL, CHECK, unique, foreign key) rather than of a
    /// value itself (21, 22, 54): the one kind of refusal a migration can bring about for every
    /// event alike, which a worker must not mistake for the events' fault.
    public var isConstraintRefusal: Bool { code == .rejected && sqlState?.hasPrefix("23") == true }

    /// Classifies whatever PostgresNIO threw.
    static func from(_ error: any Error) -> EventStoreError {
        if let error = error as? EventStoreError { return error }
        guard let psql = error as? PSQLError else { return EventStoreError(.unavailable, "\(error)") }
        switch psql.code {
        case .server:
            let state = psql.serverInfo?[.sqlState]
            let message = psql.serverInfo?[.message] ?? "server error"
            return EventStoreError(state.map(classify) ?? .server, message, sqlState: state)
        default:
            return EventStoreError(.unavailable, String(describing: psql.code))
        }
    }

    /// What a SQLSTATE says about a failed batch (PostgreSQL's appendix A). About the events
    /// themselves, so retrying cannot help: 21 cardinality, 22 data exception, 23 integrity
    /// constraint, 54 program limit (an index row too large). Transient: 08 connection, 40 rollback
    /// (deadlock, serialization), 53 resources, 57 operator intervention (shutdown,
    /// statement_timeout), 58 system, 55P03 lock_timeout. Everything else (28 authorization, 3D
    /// missing database, 42 missing table or privilege, 26 a prepared statement a pooler lost, P0
    /// raised by a trigger, XX internal, …) says the deployment is wrong: retried, never a reason
    /// to dead-letter an event.
    public static func classify(_ sqlState: String) -> Code {
        if sqlState == "55P03" { return .unavailable }
        switch sqlState.prefix(2) {
        case "21", "22", "23", "54": return .rejected
        case "08", "40", "53", "57", "58": return .unavailable
        default: return .server
        }
    }
}
