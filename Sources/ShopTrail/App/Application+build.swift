import Hummingbird
import HummingbirdCore
import Logging
import NIOCore

/// Everything `buildApplication` needs, so tests can inject a store, a clock and a port.
public struct AppDependencies: Sendable {
    public var config: ShopTrailConfig
    /// The event log the collector and webhooks append to.
    public var store: any EventStore
    /// The whole store behind it (the console, dashboard and backfill read it); nil serves the collector alone.
    public var storage: (any ShopTrailStore)?
    public var clock: any WallClock
    public var limits: CollectorLimits
    public var logger: Logger
    /// Guards the admin endpoints; nil falls back to `config.server.adminToken` (see `AdminToken.loadOrCreate`).
    public var adminToken: Secret?
    /// The beacon rate limits; nil builds them from `config.server.limits`.
    public var rateLimits: BeaconRateLimits?
    /// What the console and `/metrics` count; pass the same object to `BackgroundStages` so Braze answers show too.
    public var signals = OperatorSignals()

    public init(config: ShopTrailConfig, store: any ShopTrailStore, clock: any WallClock = SystemClock(), limits: CollectorLimits = .init(), logger: Logger, adminToken: Secret? = nil) {
        self.init(config: config, collectorOnly: store, clock: clock, limits: limits, logger: logger, adminToken: adminToken)
        storage = store
    }

    /// The collector, webhooks and health on an event log alone, without the admin surface (tests of a failing log).
    public init(config: ShopTrailConfig, collectorOnly store: any EventStore, clock: any WallClock = SystemClock(), limits: CollectorLimits = .init(),
                logger: Logger, adminToken: Secret? = nil) {
        self.config = config
        self.store = store
        self.clock = clock
        self.limits = limits
        self.logger = logger
        self.adminToken = adminToken
    }
}

/// Wires the router: collector, health. Later stages add their controllers here.
public func buildRouter(_ deps: AppDependencies) -> Router<ShopTrailRequestContext> {
    let router = Router(context: ShopTrailRequestContext.self)
    // Outermost: the admin answers get their security headers after errors are rendered.
    router.add(middleware: AdminSecurityHeadersMiddleware())
    router.add(middleware: JSONErrorMiddleware())
    let rateLimits = deps.rateLimits ?? BeaconRateLimits(deps.config.server.limits)
    HealthController(store: deps.store).addRoutes(to: router)
    var collector = CollectorController(config: deps.config, store: deps.store, limits: deps.limits, clock: deps.clock,
                                        rateLimits: rateLimits, logger: deps.logger)
    collector.signals = deps.signals
    collector.addRoutes(to: router)
    // The storefront kit: tracker, admin snippet/pixel, App Proxy and Custom Pixel beacons.
    SDKController().addRoutes(to: router)
    SDKController(path: SDKController.brazeLoaderPath, asset: .brazeLoader).addRoutes(to: router)
    SnippetController(config: deps.config, adminToken: deps.adminToken ?? deps.config.server.adminToken).addRoutes(to: router)
    AppProxyController(collector: collector).addRoutes(to: router)
    BrazeTokenController(config: deps.config, clock: deps.clock, rateLimits: rateLimits, logger: deps.logger).addRoutes(to: router)
    PixelCollectorController(collector: collector).addRoutes(to: router)
    var webhooks = WebhookController(config: deps.config, store: deps.store, clock: deps.clock, logger: deps.logger)
    webhooks.signals = deps.signals
    webhooks.addRoutes(to: router)
    if let storage = deps.storage {
        let adminToken = deps.adminToken ?? deps.config.server.adminToken
        let jobs = storage.backfillJobs
        DashboardController(config: deps.config, states: storage.state, outbox: storage.outbox, processorLog: storage.processorLog,
                            backfillJobs: jobs, adminToken: adminToken, clock: deps.clock).addRoutes(to: router)
        BackfillController(config: deps.config, jobs: jobs, adminToken: adminToken).addRoutes(to: router)
        ConsoleController(config: deps.config, views: storage.operatorViews, states: storage.state,
                          backfill: { shop in try await jobs.job(shop: shop) }, signals: deps.signals,
                          adminToken: adminToken, clock: deps.clock).addRoutes(to: router)
    }
    return router
}

/// Builds the ShopTrail HTTP application.
public func buildApplication(
    _ deps: AppDependencies,
    host: String,
    port: Int,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let limits = deps.config.server.limits
    let counter = ConnectionCounter(limit: ConnectionCounter.effectiveLimit(configured: limits.maxConnections))
    let requestTimeout = TimeAmount.milliseconds(limits.requestTimeoutMillis)
    let channel = HTTP1Channel.Configuration(
        additionalChannelHandlers: [ConnectionGuard(counter: counter, requestTimeout: requestTimeout)],
        idleTimeout: .milliseconds(limits.idleTimeoutMillis)
    )
    return Application(
        router: buildRouter(deps),
        server: .http1(configuration: channel),
        configuration: .init(address: .hostname(host, port: port), serverName: "ShopTrail"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: deps.logger
    )
}
