import NIOCore
import NIOPosix
import PostwireConfig
import ServiceLifecycle
import WorkerApp

// postwire-worker: a consumer-group member that commits events to PostgreSQL and only then
// acknowledges them. SIGTERM/SIGINT: finish, commit and acknowledge the batch in hand, then exit.
// Swift concurrency on NIO's event loops, as in postwire-ingress: no thread hop per Redis or
// PostgreSQL reply. Must come before any task starts.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.worker")
do {
    let (group, _) = try Worker.buildServiceGroup(configuration: configuration, secrets: secrets, logger: logger)
    try await group.run()
} catch let error as ConfigurationError {
    Bootstrap.fail(error)
}
