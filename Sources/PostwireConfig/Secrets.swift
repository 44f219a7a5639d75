import Foundation

/// Secrets come from the environment only, never from a configuration file, and are never logged:
/// the type's description hides them.
public struct Secrets: Sendable, CustomStringConvertible {
    private let environment: [String: String]

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.environment = environment
    }

    public var redisPassword: String? { value("POSTWIRE_REDIS_PASSWORD") }
    public var redisSentinelPassword: String? { value("POSTWIRE_REDIS_SENTINEL_PASSWORD") }
    public var postgresPassword: String? { value("POSTWIRE_POSTGRES_PASSWORD") }
    /// The password `postwire migrate` gives the read-only `postwire_analyst` role.
    public var analystPassword: String? { value("POSTWIRE_ANALYST_PASSWORD") }

    /// Every secret configured for a source (several while a key is being rotated).
    public func sourceSecrets(_ source: SourceSettings) -> [String] {
        guard let text = value(source.secretVariable) else { return [] }
        return text.split(whereSeparator: { $0 == "," || $0.isNewline })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
    }

    /// `NAME`, or the contents of the file named by `NAME_FILE` (Docker secrets).
    public func value(_ name: String) -> String? {
        if let direct = environment[name], !direct.isEmpty { return direct }
        guard let path = environment[name + "_FILE"], !path.isEmpty,
            let contents = try? String(contentsOfFile: path, encoding: .utf8)
        else { return nil }
        let trimmed = contents.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    public var description: String { "Secrets(hidden)" }

    /// `mailgun` → `MAILGUN`, `eu-account` → `EU_ACCOUNT`.
    static func variablePart(_ text: String) -> String {
        String(text.uppercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}
