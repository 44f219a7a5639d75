import IngressApp
import NIOCore
import NIOPosix
import PostwireConfig
import ServiceLifecycle
import UnixSignals

// postwire-ingress: authenticate, normalize, XADD, answer; metrics and health on the operations
// port. Configuration: see Config/postwire.json and the README; SIGTERM/SIGINT stop accepting,
// drain in-flight requests and stop.
//
// Swift concurrency runs on NIO's event loops rather than its own pool: a request no longer hops
// threads between the socket, the handler and the Redis reply (in the issue 7 profile, thread
// switches were 7 % of the ingress's time). Must come before any task starts.
_ = NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.ingress")
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
