import Foundation
import Hummingbird
import NIOCore

/// `GET /v1/admin/backfill/{domain}` behind the admin token: the shop's backfill job (state, phase, counts, error).
public struct BackfillController: Sendable {
    public let config: ShopTrailConfig
    public let jobs: any BackfillJobStore
    public let adminToken: Secret?

    public init(config: ShopTrailConfig, jobs: any BackfillJobStore, adminToken: Secret?) {
        self.config = config
        self.jobs = jobs
        self.adminToken = adminToken
    }

    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("/v1/admin/backfill/:domain") { request, context in
            try AdminToken.require(request, token: self.adminToken, basic: false)
            let domain = context.parameters.get("domain") ?? ""
            guard self.config.shop(domain: domain) != nil else { throw APIError(.notFound, "unknown_shop", "no shop \(domain) is configured") }
            let job = try await self.jobs.job(shop: domain)
            return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: job.json.serialized)))
        }
    }
}
