import ArgumentParser
import NIOCore
import NIOPosix

@main
struct Postwire: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "postwire",
        abstract:
            "Operate a Postwire cluster: migrate, watch its status, report rates, export suppressions, apply retention, send test webhooks, replay dead letters, make keys.",
        subcommands: [
            Migrate.self, Status.self, Stats.self, Suppressions.self, Retention.self, SendTest.self, LoadGenCommand.self, Replay.self,
            Keygen.self, Endpoints.self, Deliveries.self, TimelineCommand.self, Report.self,
        ]
    )

    /// Swift concurrency on NIO's event loops, as in the servers: `loadgen` then spends its share
    /// of the cores on requests, not on thread hops. Must come before any task starts.
    static func main() async {
        _ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        await main(nil)
    }
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "A JSON configuration file (default: $POSTWIRE_CONFIG, else built-in defaults).")
    var config: String?
}
