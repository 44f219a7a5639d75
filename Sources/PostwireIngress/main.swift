import Hummingbird
import IngressApp
import PostwireConfig

// postwire-ingress: authenticate, normalize, XADD, answer. Configuration: see Config/postwire.json
// and the README; SIGTERM/SIGINT drain in-flight requests and stop.
let (configuration, secrets, logger) = Bootstrap.start(label: "postwire.ingress")
func run(_ app: some ApplicationProtocol) async throws { try await app.runService() }
do {
    try await run(Ingress.buildApplication(configuration: configuration, secrets: secrets, logger: logger))
} catch let error as ConfigurationError {
    Bootstrap.fail(error)
}
