import Foundation
import IngressApp
import NIOCore
import NIOPosix
import Operations
import PostwireConfig
import ServiceLifecycle
import UnixSignals

// postwire-ingress: authenticate, normalize, XADD, answer; metrics and health on the operations
// port. Configuration: see Config/postwire.json and the README; SIGTERM/SIGINT stop accepting,
// drain in-flight requests and stop. `--check-health`: exit 0 when the running ingress is ready.
//
// Swift concurrency runs on NIO's event loops rather than its own pool, so a request does not hop
// threads between the socket, the handler and the Redis reply (thread switches were a visible
// share of the ingress's time: docs/PERFORMANCE.md). Must come before any task starts.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.ingress")
if CommandLine.arguments.dropFirst().first == "--check-health" {
    // The image's HEALTHCHECK: exit 1 unless the running ingress says it is ready (Redis answers).
    exit(await HealthCheck.report(host: configuration.ingress.metricsHost, port: configuration.ingress.metricsPort))
}
do {
    // Each server logs the address it listens on.
    let services = try Ingress.buildServices(configuration: configuration, secrets: secrets, logger: logger)
    try await ServiceGroup(
        configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
    ).run()
} catch let error as ConfigurationError {
    Bootstrap.fail(error)
}
