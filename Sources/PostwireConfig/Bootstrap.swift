import Foundation
import Logging

/// What every executable does first: set up logging and read the configuration, turning a
/// configuration mistake into one clear line and exit status 78 (EX_CONFIG) instead of a trace.
public enum Bootstrap {
    public static func start(label: String, configFile: String? = nil) -> (PostwireConfiguration, Secrets, Logger) {
        let environment = ProcessInfo.processInfo.environment
        let level = environment["POSTWIRE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
        // JSON lines for collectors; plain text on a terminal, unless POSTWIRE_LOG_FORMAT says which.
        let json = environment["POSTWIRE_LOG_FORMAT"].map { $0 == "json" } ?? (isatty(STDERR_FILENO) == 0)
        LoggingSystem.bootstrap { name in
            if json { return JSONLogHandler(label: name, level: level) }
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: label)
        do {
            let configuration = try ConfigurationLoader.load(file: configFile, environment: environment)
            return (configuration, Secrets(environment: environment), logger)
        } catch {
            fail(error)
        }
    }

    public static func fail(_ error: ConfigurationError) -> Never {
        FileHandle.standardError.write(Data("configuration error: \(error.message)\n".utf8))
        exit(78)
    }
}
