import IngressApp
import PostwireConfig
import ServiceLifecycle
import UnixSignals

// postwire-ingress: authenticate, normalize, XADD, answer; metrics and health on the operations
// port. Configuration: see Config/postwire.json and the README; SIGTERM/SIGINT stop accepting,
// drain in-flight requests and stop.
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
