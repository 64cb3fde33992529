import Hummingbird
import NIOCore

/// The request context of ShopTrail's routes: Hummingbird's basics plus the peer address, which the
/// per-IP rate limit needs.
public struct ShopTrailRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The TCP peer (the client, or the reverse proxy in front).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}
