import Foundation

public struct ConfigurationError: Error, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}

/// Builds a ``PostwireConfiguration`` from three layers, later ones winning:
///
/// 1. the defaults in ``PostwireConfiguration``;
/// 2. a JSON file (`--config` or `POSTWIRE_CONFIG`), which may give any subset of keys; an unknown
///    key is an error, so a typo does not silently fall back to a default;
/// 3. environment variables named `POSTWIRE_<SECTION>_<KEY>` in upper snake case
///    (`POSTWIRE_REDIS_PORT`, `POSTWIRE_WORKER_BATCH_SIZE`), and `POSTWIRE_SOURCES` holding the
///    sources as a JSON array.
public enum ConfigurationLoader {
    public static func load(
        file: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigurationError) -> PostwireConfiguration {
        var tree = defaultsTree()
        if let path = file ?? environment["POSTWIRE_CONFIG"].flatMap({ $0.isEmpty ? nil : $0 }) {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError(message: "cannot read configuration file \(path)")
            }
            guard let fileTree = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw ConfigurationError(message: "configuration file \(path) is not a JSON object")
            }
            try merge(fileTree, into: &tree, path: "")
        }
        try applyEnvironment(environment, to: &tree)
        do {
            let data = try JSONSerialization.data(withJSONObject: tree)
            return try JSONDecoder().decode(PostwireConfiguration.self, from: data)
        } catch {
            throw ConfigurationError(message: "configuration does not decode: \(error)")
        }
    }

    /// The environment variable that overrides `section.key`.
    public static func variableName(section: String, key: String) -> String {
        "POSTWIRE_" + snake(section) + "_" + snake(key)
    }

    /// The `POSTWIRE_*` variables that make ``load(file:environment:)`` return `configuration`
    /// from the defaults: one for every setting that differs from its default, arrays and objects
    /// as JSON. How a process starts another with the settings it has (the tests' child processes).
    public static func environment(for configuration: PostwireConfiguration) -> [String: String] {
        let defaults = defaultsTree()
        let data = (try? JSONEncoder().encode(configuration)) ?? Data("{}".utf8)
        let tree = (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
        var environment: [String: String] = [:]
        for (section, value) in tree {
            guard let settings = value as? [String: Any] else {
                if section == "sources", !NSArray(array: value as? [Any] ?? []).isEqual(defaults[section] as? [Any] ?? []) {
                    environment["POSTWIRE_SOURCES"] = json(value)
                }
                continue
            }
            let original = defaults[section] as? [String: Any] ?? [:]
            // Compared as JSON text: Foundation's own equality does not hold between two
            // decoded booleans on Linux.
            for (key, current) in settings where original[key].map({ json(["v": $0]) != json(["v": current]) }) ?? true {
                environment[variableName(section: section, key: key)] =
                    current is [Any] || current is [String: Any]
                    ? json(current) : (current as? NSNumber).map(text) ?? "\(current)"
            }
        }
        return environment
    }

    /// A setting's number as its variable holds it: `true`/`false` for a boolean.
    private static func text(_ number: NSNumber) -> String {
        String(cString: number.objCType) == "c" ? (number.boolValue ? "true" : "false") : number.stringValue
    }

    private static func json(_ value: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("[]".utf8), as: UTF8.self)
    }

    static func defaultsTree() -> [String: Any] {
        // Encoding our own value type cannot fail.
        let data = (try? JSONEncoder().encode(PostwireConfiguration())) ?? Data("{}".utf8)
        return (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    private static func merge(_ overlay: [String: Any], into base: inout [String: Any], path: String) throws(ConfigurationError) {
        for (key, value) in overlay {
            let here = path.isEmpty ? key : "\(path).\(key)"
            guard let existing = base[key] else {
                throw ConfigurationError(message: "unknown configuration key \(here)")
            }
            if var section = existing as? [String: Any], let overlaySection = value as? [String: Any] {
                try merge(overlaySection, into: &section, path: here)
                base[key] = section
            } else {
                base[key] = value
            }
        }
    }

    private static func applyEnvironment(_ environment: [String: String], to tree: inout [String: Any]) throws(ConfigurationError) {
        if let sources = environment["POSTWIRE_SOURCES"], !sources.isEmpty {
            guard let list = try? JSONSerialization.jsonObject(with: Data(sources.utf8)) as? [Any] else {
                throw ConfigurationError(message: "POSTWIRE_SOURCES is not a JSON array")
            }
            tree["sources"] = list
        }
        for (section, value) in tree {
            guard var settings = value as? [String: Any] else { continue }
            for (key, current) in settings {
                let name = variableName(section: section, key: key)
                guard let text = environment[name] else { continue }
                settings[key] = try convert(text, like: current, variable: name)
            }
            tree[section] = settings
        }
    }

    private static func convert(_ text: String, like current: Any, variable: String) throws(ConfigurationError) -> Any {
        if current is [Any] || current is [String: Any] {
            guard let value = try? JSONSerialization.jsonObject(with: Data(text.utf8)), type(of: value) != NSNull.self else {
                throw ConfigurationError(message: "\(variable) must be JSON (\(current is [Any] ? "an array" : "an object")), not \(text)")
            }
            return value
        }
        if let number = current as? NSNumber, !(current is String) {
            if String(cString: number.objCType) == "c" {
                switch text.lowercased() {
                case "true", "1", "yes": return true
                case "false", "0", "no": return false
                default: throw ConfigurationError(message: "\(variable) must be true or false, not \(text)")
                }
            }
            if let value = Int(text) { return value }
            // Rates (`analytics.complaintRateThreshold`) are fractions.
            if let value = Double(text), value.isFinite { return value }
            throw ConfigurationError(message: "\(variable) must be a number, not \(text)")
        }
        return text
    }

    /// `maxBodyBytes` → `MAX_BODY_BYTES`.
    static func snake(_ name: String) -> String {
        var out = ""
        for character in name {
            if character.isUppercase, !out.isEmpty { out.append("_") }
            out.append(contentsOf: character.uppercased())
        }
        return out
    }
}
