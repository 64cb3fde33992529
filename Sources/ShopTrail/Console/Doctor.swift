import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1

/// `shoptrail doctor`: checks against the live services that an installation can work, one line per
/// check, each failure with what to do about it.
public struct Doctor: Sendable {
    /// One check's result.
    public struct Check: Sendable, Equatable {
        public var name: String
        public var ok: Bool
        /// What was found.
        public var detail: String
        /// What to do when it failed.
        public var fix: String?

        public var line: String {
            (ok ? "ok    " : "FAIL  ") + name + ": " + detail + (ok ? "" : fix.map { "\n      fix: " + $0 } ?? "")
        }
    }

    public let config: ShopTrailConfig
    public let httpClient: HTTPClient
    /// Free space under which the storage check fails.
    public var minimumFreeBytes: Int64 = 200 * 1024 * 1024
    public var timeout: Duration = .seconds(10)

    public init(config: ShopTrailConfig, httpClient: HTTPClient) {
        self.config = config
        self.httpClient = httpClient
    }

    /// Endpoint families the forwarder always uses (subscription groups and the catalog add theirs when
    /// configured), each probed with an empty body: Braze checks the key and
    /// its permission before the body, so a 400 (invalid body) proves both and writes nothing.
    static let brazeProbes: [(family: String, endpoint: BrazeEndpoint)] = [
        ("users.track", .usersTrack), ("users.identify", .usersIdentify), ("users.alias.new", .usersAliasNew),
        ("users.merge", .usersMerge), ("users.delete", .usersDelete),
    ]

    /// Every check, for `shop` only when given.
    public func run(shop only: String? = nil) async -> [Check] {
        var checks = [Check(name: "config", ok: true, detail: "\(config.origin): \(config.shops.count) shop(s), public_url \(config.server.publicURL)")]
        for shop in config.shops where only == nil || shop.domain == only {
            checks += await braze(shop)
            checks.append(shopifySecret(shop))
        }
        checks.append(await publicURL())
        checks.append(storage())
        return checks
    }

    func braze(_ shop: ShopConfig) async -> [Check] {
        guard let client = BrazeClient(httpClient: httpClient, config: shop.braze, timeout: timeout) else {
            return [Check(name: "braze \(shop.domain)", ok: true, detail: "no braze.api_key: operations go to the in-process sandbox (dry run)")]
        }
        var probes = Self.brazeProbes
        if shop.braze.emailSubscriptionGroupId != nil || shop.braze.smsSubscriptionGroupId != nil {
            probes.append(("subscription.status.set", .subscriptionStatusSetV2))
        }
        if shop.braze.catalog.enabled { probes.append(("catalogs.create", .catalogs)) }
        var checks: [Check] = []
        for probe in probes {
            let answer = await client.send(probe.endpoint, body: Array("{}".utf8))
            let name = "braze \(shop.domain) \(probe.family)"
            switch answer.status {
            case .some(200..<300), .some(400):
                checks.append(Check(name: name, ok: true, detail: "key accepted with the \(probe.family) permission (HTTP \(answer.status ?? 0))"))
            case .some(401):
                checks.append(Check(name: name, ok: false, detail: "Braze refused the key (401)",
                                    fix: "set braze.api_key (or its _env variable) to a REST API key of the workspace, and braze.rest_endpoint to its instance"))
            case .some(403):
                checks.append(Check(name: name, ok: false, detail: "the key lacks the \(probe.family) permission (403)",
                                    fix: "in Braze, Settings → APIs and Identifiers, give the key the \(probe.family) permission"))
            case .some(429):
                checks.append(Check(name: name, ok: true, detail: "rate limited (429): the key works, the limit is spent for now"))
            case .some(let status):
                checks.append(Check(name: name, ok: false, detail: "unexpected HTTP \(status): \(answer.summary)", fix: "check braze.rest_endpoint"))
            case .none:
                checks.append(Check(name: name, ok: false, detail: "no answer: \(answer.summary)",
                                    fix: "check braze.rest_endpoint (e.g. https://rest.iad-01.braze.com) and that this host reaches it"))
            }
        }
        return checks
    }

    /// Signs a test webhook body with the app secret and verifies it as a delivery would be.
    func shopifySecret(_ shop: ShopConfig) -> Check {
        let name = "shopify \(shop.domain) app secret"
        guard let secret = shop.shopify.apiSecret else {
            return Check(name: name, ok: false, detail: "shopify.api_secret is not set: webhooks and App Proxy requests cannot be verified",
                         fix: "copy the app's API secret key (Shopify Partners → the app → Client credentials) into shopify.api_secret")
        }
        let body = Array(#"{"doctor":true}"#.utf8)
        let mac = Data(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.value.utf8)))).base64EncodedString()
        let ok = WebhookSignature.verify(body, header: mac, secrets: [secret]) && !WebhookSignature.verify(body, header: mac, secrets: [Secret(secret.value + "x")])
        return Check(name: name, ok: ok, detail: ok ? "a test HMAC signed with it verifies" : "a test HMAC did not verify",
                     fix: "re-copy shopify.api_secret without spaces or quotes")
    }

    /// GET {public_url}/healthz, as a browser on the internet would reach it.
    func publicURL() async -> Check {
        let base = config.server.publicURL.hasSuffix("/") ? String(config.server.publicURL.dropLast()) : config.server.publicURL
        let name = "public url"
        do {
            var request = HTTPClientRequest(url: base + "/healthz")
            request.method = .GET
            let response = try await httpClient.execute(request, timeout: .seconds(Int64(timeout.components.seconds)))
            let ok = response.status == .ok
            return Check(name: name, ok: ok, detail: "GET \(base)/healthz answered \(response.status.code)",
                         fix: "server.public_url must be the address browsers use; check the reverse proxy forwards /healthz to shoptrail serve")
        } catch {
            return Check(name: name, ok: false, detail: "GET \(base)/healthz failed (\(type(of: error)))",
                         fix: "start `shoptrail serve`, and make server.public_url reachable from outside (DNS, TLS, firewall, reverse proxy)")
        }
    }

    /// The data directory takes a write and has room.
    func storage() -> Check {
        let dir = config.server.dataDir
        let name = "storage"
        let probe = (dir as NSString).appendingPathComponent(".doctor-\(UUID().uuidString)")
        do {
            _ = try PrivateFiles.directory(dir)
            try PrivateFiles.createNew(probe, contents: Data("ok".utf8))
            try FileManager.default.removeItem(atPath: probe)
        } catch {
            return Check(name: name, ok: false, detail: "cannot write in \(dir) (\(type(of: error)))",
                         fix: "make server.data_dir a folder the shoptrail user owns (mode 0700)")
        }
        let free = ((try? FileManager.default.attributesOfFileSystem(forPath: dir))?[.systemFreeSize] as? NSNumber)?.int64Value ?? 0
        let text = "\(dir) is writable, \(free / 1_048_576) MiB free"
        guard free >= minimumFreeBytes else {
            return Check(name: name, ok: false, detail: text, fix: "free disk space or lower server.retention (the log keeps growing)")
        }
        return Check(name: name, ok: true, detail: text)
    }
}
