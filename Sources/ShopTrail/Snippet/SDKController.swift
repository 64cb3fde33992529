import Hummingbird
import NIOCore

/// `GET /sdk/v1/shoptrail.js`: the tracker (and `/sdk/v1/braze-loader.js`, the Braze Web SDK loader),
/// gzip when accepted, with an ETag and long-lived caching.
///
/// The snippet loads `?v={version}`; a request naming the current version is immutable for a year
/// (a new build changes the URL). Any other request (no `v`, an old `v`) may be cached five minutes,
/// so a stale snippet still picks up a new tracker soon.
public struct SDKController: Sendable {
    public static let path = "/sdk/v1/shoptrail.js"
    /// The loader of the Braze Web SDK, referenced by the snippet only for shops with `braze.web_sdk`.
    public static let brazeLoaderPath = "/sdk/v1/braze-loader.js"
    public let path: String
    public let asset: TrackerAsset

    public init(path: String = SDKController.path, asset: TrackerAsset = .embedded) {
        self.path = path
        self.asset = asset
    }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get(RouterPath(stringLiteral: path)) { request, _ in self.serve(request) }
    }

    func serve(_ request: Request) -> Response {
        let gzip = Self.acceptsGzip(request.headers[.acceptEncoding]) && !asset.gzipped.isEmpty
        let etag = asset.etag(gzip: gzip)
        let current = request.uri.queryParameters.get("v") == asset.version
        var headers: HTTPFields = [
            .contentType: "application/javascript; charset=utf-8",
            .cacheControl: current ? "public, max-age=31536000, immutable" : "public, max-age=300",
            .eTag: etag,
            .vary: "Accept-Encoding",
            // The tracker is public; letting any origin read it costs nothing and helps tooling.
            .accessControlAllowOrigin: "*",
        ]
        // Lets the storefront's Performance API see the tracker's real sizes and timings.
        if let timing = HTTPFields.Element.Name("Timing-Allow-Origin") { headers[timing] = "*" }
        if let match = request.headers[.ifNoneMatch], match.split(separator: ",").contains(where: { $0.trimmingCharacters(in: .whitespaces) == etag || $0.trimmingCharacters(in: .whitespaces) == "*" }) {
            return Response(status: .notModified, headers: headers)
        }
        let body: ByteBuffer
        if gzip {
            headers[.contentEncoding] = "gzip"
            body = ByteBuffer(bytes: asset.gzipped)
        } else {
            body = ByteBuffer(string: asset.javaScript)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }

    /// `Accept-Encoding` names gzip (or `*`) with a non-zero q.
    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "*" else { continue }
            let q = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            return q > 0
        }
        return false
    }
}
