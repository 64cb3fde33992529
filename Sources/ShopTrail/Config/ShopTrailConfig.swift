/// The whole configuration: server settings and the shops this instance serves.
public struct ShopTrailConfig: Sendable {
    public var server: ServerConfig
    public var shops: [ShopConfig]
    /// Which storage engine holds the log and the state (`storage:`).
    public var storage = StorageConfig()
    /// Where this came from (a file path, or the built-in demo), for the start-up banner.
    public var origin: String

    public init(server: ServerConfig, shops: [ShopConfig], origin: String) {
        self.server = server
        self.shops = shops
        self.origin = origin
    }

    /// The shop whose public write key this is.
    public func shop(writeKey: String) -> ShopConfig? {
        shops.first { $0.writeKey == writeKey }
    }

    public func shop(domain: String) -> ShopConfig? {
        shops.first { $0.domain == domain }
    }

    /// The demo shows every abandonment kind with the default windows.
    static var demoAbandonment: AbandonmentConfig {
        var config = AbandonmentConfig()
        for kind in AbandonmentKind.allCases { config[kind].enabled = true }
        return config
    }

    /// The built-in demo shop used when there is no config file.
    public static func demo(host: String = "127.0.0.1", port: Int = 8080) -> ShopTrailConfig {
        let publicURL = "http://\(host):\(port)"
        return ShopTrailConfig(
            server: ServerConfig(publicURL: publicURL, host: host, port: port),
            shops: [
                ShopConfig(
                    domain: "demo.myshopify.com",
                    writeKey: "pk_demo_1",
                    allowedOrigins: ["https://demo.myshopify.com", "http://127.0.0.1:8080", "http://localhost:8080"],
                    snippetSecret: Secret("demo-snippet-secret-not-for-production"),
                    shopify: ShopifyConfig(apiSecret: Secret("demo-shopify-api-secret-not-for-production")),
                    braze: BrazeConfig(),
                    abandonment: demoAbandonment
                )
            ],
            origin: "built-in demo shop (no shoptrail.yml found)"
        )
    }
}

/// The `server:` section.
public struct ServerConfig: Sendable, Equatable {
    /// How browsers reach the collector (goes into the snippet).
    public var publicURL: String
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Folder holding the SQLite database.
    public var dataDir: String = "./data"
    public var sqliteSynchronous: SQLiteSynchronous = .full
    /// Bearer token for the admin endpoints (`GET /v1/shops/{domain}/snippet.liquid`, `pixel.js`).
    /// Unset: `AdminToken.loadOrCreate` keeps a generated one in `data_dir/admin_token`.
    public var adminToken: Secret?
    /// Connection, timeout and rate limits (`server.limits`).
    public var limits = ServerLimits()
    /// How long what grows with traffic is kept (`server.retention`).
    public var retention = RetentionConfig()
    /// `server.metrics_listen`: a second address serving `GET /metrics` alone, without the admin token
    /// (keep it private: loopback or an internal network).
    public var metricsListen: MetricsListen?

    public init(publicURL: String, host: String = "127.0.0.1", port: Int = 8080, dataDir: String = "./data", sqliteSynchronous: SQLiteSynchronous = .full, adminToken: Secret? = nil) {
        self.publicURL = publicURL
        self.host = host
        self.port = port
        self.dataDir = dataDir
        self.sqliteSynchronous = sqliteSynchronous
        self.adminToken = adminToken
    }
}

/// Where `/metrics` is also served (`server.metrics_listen: HOST:PORT`).
public struct MetricsListen: Sendable, Equatable {
    public var host: String
    public var port: Int

    public init(_ host: String, _ port: Int) {
        self.host = host
        self.port = port
    }
}

/// What one client may cost the server (`server.limits`; docs/operations.md, "Limits and cost bound").
public struct ServerLimits: Sendable, Equatable {
    /// Open connections at most; beyond it a request is answered 503 and its connection closed. The
    /// server lowers it below the process's descriptor limit so it never runs out of descriptors.
    public var maxConnections = 4096
    /// A connection with no request in progress is closed after this long.
    public var idleTimeoutMillis: EpochMillis = 60_000
    /// A request whose head and body have not fully arrived this long after it began is dropped.
    public var requestTimeoutMillis: EpochMillis = 15_000
    /// Events beaconed (`/v1/batch`, `/v1/pixel/batch`) per client IP per minute; 0 turns the limit off.
    public var eventsPerIPPerMinute = 600
    /// Events per write key per minute, all routes of the shop together; 0 turns the limit off.
    public var eventsPerWriteKeyPerMinute = 120_000
    /// Take the client IP from the last `X-Forwarded-For` entry (set by your reverse proxy) instead of the peer address.
    public var trustForwardedFor = false

    public init() {}
}

/// One Shopify shop (`shops:` entry).
public struct ShopConfig: Sendable, Equatable {
    /// The permanent `*.myshopify.com` domain.
    public var domain: String
    /// Public key that identifies the shop in beacons.
    public var writeKey: String
    /// Browser origins allowed to beacon for this shop (CORS).
    public var allowedOrigins: [String]
    /// Signs the logged-in customer in the Liquid snippet.
    public var snippetSecret: Secret?
    public var shopify: ShopifyConfig
    public var braze: BrazeConfig
    /// Set: the snippet beacons through the shop's App Proxy instead of straight to `public_url`.
    public var appProxy: AppProxyConfig?
    /// The snippet carries the whole tracker instead of loading `/sdk/v1/shoptrail.js`.
    public var inlineTracker: Bool
    /// The abandonment timers (all kinds off unless enabled).
    public var abandonment: AbandonmentConfig

    /// The store's name: the domain without `.myshopify.com`.
    public var storeName: String {
        domain.hasSuffix(".myshopify.com") ? String(domain.dropLast(".myshopify.com".count)) : domain
    }

    public init(
        domain: String, writeKey: String, allowedOrigins: [String], snippetSecret: Secret?, shopify: ShopifyConfig, braze: BrazeConfig,
        appProxy: AppProxyConfig? = nil, inlineTracker: Bool = false, abandonment: AbandonmentConfig = AbandonmentConfig()
    ) {
        self.abandonment = abandonment
        self.domain = domain
        self.writeKey = writeKey
        self.allowedOrigins = allowedOrigins
        self.snippetSecret = snippetSecret
        self.shopify = shopify
        self.braze = braze
        self.appProxy = appProxy
        self.inlineTracker = inlineTracker
    }

    public func allows(origin: String) -> Bool {
        allowedOrigins.contains(origin)
    }
}

/// The `app_proxy:` section of a shop: where Shopify exposes the app on the storefront,
/// `https://{shop}/{subpath_prefix}/{subpath}/…`, forwarded signed to `{public_url}/proxy/…`.
public struct AppProxyConfig: Sendable, Equatable {
    /// The prefixes Shopify offers for app proxies.
    public static let prefixes = ["apps", "a", "community", "tools"]
    public var subpathPrefix: String = "apps"
    public var subpath: String = "shoptrail"

    public init(subpathPrefix: String = "apps", subpath: String = "shoptrail") {
        self.subpathPrefix = subpathPrefix
        self.subpath = subpath
    }

    /// The storefront path the tracker beacons to.
    public var batchPath: String { "/\(subpathPrefix)/\(subpath)/v1/batch" }
}

/// The `shopify:` section of a shop.
public struct ShopifyConfig: Sendable, Equatable {
    /// The app's API secret: webhook HMAC and App Proxy signatures.
    public var apiSecret: Secret?
    /// The secret before a rotation: webhooks signed with it are still accepted until it is removed.
    public var previousApiSecret: Secret?
    /// Base URL of the Admin API (default `https://{domain}`; the emulator's URL in tests and demos).
    public var adminAPIURL: String?
    /// The Admin API access token (`shpat_…`) used by backfill and catalog sync.
    public var adminAccessToken: Secret?
    /// The Admin API version pinned in request paths.
    public var apiVersion = "2025-10"

    public init(apiSecret: Secret? = nil, previousApiSecret: Secret? = nil, adminAPIURL: String? = nil, adminAccessToken: Secret? = nil) {
        self.apiSecret = apiSecret
        self.previousApiSecret = previousApiSecret
        self.adminAPIURL = adminAPIURL
        self.adminAccessToken = adminAccessToken
    }

    /// The GraphQL endpoint of `shop`'s Admin API.
    public func graphQLURL(shop: String) -> String {
        "\(adminAPIURL ?? "https://\(shop)")/admin/api/\(apiVersion)/graphql.json"
    }
}

/// Which Shopify value identifies a Braze catalog item.
public enum CatalogItemId: String, Sendable, CaseIterable {
    case variantId = "variant_id"
    case sku
}

/// The `braze.catalog:` section: the Braze catalog mirroring the shop's products.
public struct CatalogConfig: Sendable, Equatable {
    /// Product webhooks and `shoptrail catalog sync` write the catalog only when enabled.
    public var enabled = false
    /// Braze catalog name (letters, digits, `_` and `-`).
    public var name = "shopify_products"
    public var itemId: CatalogItemId = .variantId

    public init(enabled: Bool = false, name: String = "shopify_products", itemId: CatalogItemId = .variantId) {
        self.enabled = enabled
        self.name = name
        self.itemId = itemId
    }
}

/// How a shop's Braze `external_id` is derived from the Shopify customer.
public enum ExternalIdStrategy: String, Sendable, CaseIterable {
    case customerId = "customer_id"
    case email
    case emailSHA256 = "email_sha256"
}

/// What happens to events of visitors who are not yet known.
public enum AnonymousMode: String, Sendable, CaseIterable {
    case hold
    case forward
}

/// Which event names go to Braze.
public enum EventNaming: String, Sendable, CaseIterable {
    case ecommerce
    case legacy
}

/// The `braze:` section of a shop.
public struct BrazeConfig: Sendable, Equatable {
    /// The cluster's REST endpoint, e.g. `https://rest.fra-02.braze.eu`.
    public var restEndpoint: String?
    /// No key means dry-run: operations are logged and kept, nothing is sent.
    public var apiKey: Secret?
    public var externalId: ExternalIdStrategy = .customerId
    public var anonymous: AnonymousMode = .hold
    public var events: EventNaming = .ecommerce
    /// In `hold` mode, days an unidentified visitor's events wait before they are purged.
    public var holdDays = 30
    /// Also send page views, collection views and searches (kept locally either way).
    public var browsingEvents = false
    /// The shop's Braze subscription groups for Shopify's email and SMS marketing consent.
    public var emailSubscriptionGroupId: String?
    public var smsSubscriptionGroupId: String?
    public var catalog = CatalogConfig()
    /// Objects per `/users/track` request, attributes, events and purchases together: Braze takes 75 in
    /// total, 50 on the newer MAU packages (more is refused whole with 400 `Max Input Length Exceeded`).
    public var trackObjectsPerRequest = 75
    /// The label of the `shopify_customer_id` user alias Braze's connector puts on identified profiles
    /// (`shopify_customer_id_<store>` when several stores share the config, as Braze names it then).
    public var customerIdAliasLabel = "shopify_customer_id"
    /// The Braze Web SDK in the storefront, with SDK Authentication (`braze.web_sdk`); nil: not loaded.
    public var webSDK: WebSDKConfig?

    public init(restEndpoint: String? = nil, apiKey: Secret? = nil, externalId: ExternalIdStrategy = .customerId, anonymous: AnonymousMode = .hold, events: EventNaming = .ecommerce) {
        self.restEndpoint = restEndpoint
        self.apiKey = apiKey
        self.externalId = externalId
        self.anonymous = anonymous
        self.events = events
    }

    public var isDryRun: Bool { apiKey == nil }
}
