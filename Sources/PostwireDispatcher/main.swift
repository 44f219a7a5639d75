import DispatcherApp
import Foundation
import NIOCore
import NIOPosix
import Operations
import PostwireConfig
import ServiceLifecycle

// postwire-dispatcher: sends the outbox's deliveries to the team's endpoints as signed webhooks
// (docs/DELIVERY.md). Needs PostgreSQL only. SIGTERM/SIGINT: finish the requests in flight, exit.
// `--check-health`: exit 0 when the running dispatcher is ready.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.dispatcher")
if CommandLine.arguments.dropFirst().first == "--check-health" {
    exit(await HealthCheck.report(host: configuration.dispatcher.metricsHost, port: configuration.dispatcher.metricsPort))
}
do {
    try await DispatcherAssembly.buildServiceGroup(configuration: configuration, secrets: secrets, logger: logger).run()
} catch let error as ConfigurationError {
    Bootstrap.fail(error)
}
