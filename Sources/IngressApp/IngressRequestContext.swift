import Hummingbird
import NIOCore

/// The ingress's request context: Hummingbird's basics plus the TCP peer's address, which the
/// IP allowlists check.
public struct IngressRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
    }
}
