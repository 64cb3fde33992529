import Hummingbird
import NIOCore

/// `GET /healthz`: 200 when the store answers, 503 otherwise (for load balancers); `GET /` names the endpoints.
public struct HealthController: Sendable {
    public let store: any EventStore

    public init(store: any EventStore) { self.store = store }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        // A browser pointed at the server gets a map rather than a bare 404.
        router.get("/") { _, _ -> Response in
            Self.json(.ok, #"{"service":"shoptrail","version":"\#(ShopTrailVersion.string)","endpoints":{"health":"GET /healthz","collector":"POST /v1/batch","tracker":"GET /sdk/v1/shoptrail.js","snippet":"GET /v1/shops/{domain}/snippet.liquid (admin)","pixel":"GET /v1/shops/{domain}/pixel.js (admin)","pixel_collector":"POST /v1/pixel/batch","app_proxy":"POST /proxy/v1/batch"}}"#)
        }
        router.get("/healthz") { _, _ -> Response in
            do {
                try await store.checkHealth()
                return Self.json(.ok, #"{"status":"ok"}"#)
            } catch {
                return Self.json(.serviceUnavailable, #"{"status":"unavailable","error":"store_unavailable"}"#)
            }
        }
    }

    static func json(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
