import PostgresNIO

/// The one error type of EventStore. The worker decides what to do by `code`: `unavailable`
/// means "back off and keep the entries pending", `rejected` means the data itself was refused.
public struct EventStoreError: Error, Sendable, CustomStringConvertible {
    public enum Code: String, Sendable {
        /// PostgreSQL could not be reached or the connection broke: nothing was committed.
        case unavailable
        /// PostgreSQL refused the data (bad value, constraint): retrying the same batch fails again.
        case rejected
        /// Anything else PostgreSQL answered (permissions, missing table, …).
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

    /// Classifies whatever PostgresNIO threw.
    static func from(_ error: any Error) -> EventStoreError {
        if let error = error as? EventStoreError { return error }
        guard let psql = error as? PSQLError else { return EventStoreError(.unavailable, "\(error)") }
        switch psql.code {
        case .server:
            let state = psql.serverInfo?[.sqlState]
            let message = psql.serverInfo?[.message] ?? "server error"
            // Class 22 is data exception, 23 integrity violation: properties of the batch.
            // 08 (connection), 53 (resources), 57 (operator intervention, e.g. shutdown) are transient.
            switch state?.prefix(2) {
            case "22", "23": return EventStoreError(.rejected, message, sqlState: state)
            // 40 (deadlock, serialization failure) is a transaction rolled back: retrying succeeds.
            case "08", "40", "53", "57", "58": return EventStoreError(.unavailable, message, sqlState: state)
            default: return EventStoreError(.server, message, sqlState: state)
            }
        default:
            return EventStoreError(.unavailable, String(describing: psql.code))
        }
    }
}
