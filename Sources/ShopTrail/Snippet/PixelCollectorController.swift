import Hummingbird

/// `POST /v1/pixel/batch`: the Custom Pixel's checkout events, stored with source `pixel`.
///
/// Same body as `/v1/batch`. Custom pixels run in a sandboxed iframe whose requests carry an opaque
/// `Origin: null`, so this route does not check `Origin` (the write key is public either way).
public struct PixelCollectorController: Sendable {
    public static let path = "/v1/pixel/batch"
    let ingest: BeaconIngest

    public init(collector: CollectorController) { self.ingest = BeaconIngest(collector: collector) }

    public func addRoutes<Context: RemoteAddressRequestContext>(to router: Router<Context>) {
        router.post(RouterPath(stringLiteral: Self.path)) { request, context in
            var response = await self.ingest.ingest(request, source: .pixel, authorize: { _ throws(APIError) in },
                                                    clientIP: self.ingest.collector.clientIP(request, context))
            // The sandbox reads nothing back, but a readable answer helps when debugging from a console.
            response.headers[.accessControlAllowOrigin] = "*"
            return response
        }
    }
}
