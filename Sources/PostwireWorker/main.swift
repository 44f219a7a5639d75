import Foundation
import NIOCore
import NIOPosix
import Operations
import PostwireConfig
import ServiceLifecycle
import WorkerApp

// postwire-worker: a consumer-group member that commits events to PostgreSQL and only then
// acknowledges them. SIGTERM/SIGINT: finish, commit and acknowledge the batch in hand, then exit.
// `--check-health`: exit 0 when the running worker is ready.
// Swift concurrency on NIO's event loops, as in postwire-ingress: no thread hop per Redis or
// PostgreSQL reply. Must come before any task starts.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.worker")
if CommandLine.arguments.dropFirst().first == "--check-health" {
    // The image's HEALTHCHECK: exit 1 unless the running worker says Redis and PostgreSQL answer.
    exit(await HealthCheck.report(host: configuration.worker.metricsHost, port: configuration.worker.metricsPort))
}
do {
    let (group, _) = try Worker.buildServiceGroup(configuration: configuration, secrets: secrets, logger: logger)
    try await group.run()
} catch let error as ConfigurationError {
    Bootstrap.fail(error)
}
