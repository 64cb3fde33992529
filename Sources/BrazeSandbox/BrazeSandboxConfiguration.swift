import Foundation

/// A REST API key the sandbox accepts, with the endpoint permissions it carries (nil = every permission).
public struct BrazeAPIKey: Sendable, Hashable {
    public var key: String
    public var permissions: Set<String>?

    public init(_ key: String, permissions: Set<String>? = nil) {
        self.key = key
        self.permissions = permissions
    }
}

/// A fixed-window request budget: `requests` per `windowSeconds`.
public struct BrazeRateLimit: Sendable, Hashable {
    public var requests: Int
    public var windowSeconds: Double

    public init(requests: Int, windowSeconds: Double) {
        self.requests = requests
        self.windowSeconds = windowSeconds
    }

    /// Braze's documented default for /users/track: 3,000 requests per 3 seconds.
    public static let usersTrackDefault = BrazeRateLimit(requests: 3000, windowSeconds: 3)
}

/// Per-request size limits Braze enforces (defaults from the Braze docs; all configurable).
public struct BrazeRequestLimits: Sendable, Hashable {
    public var maxAttributes = 75
    public var maxEvents = 75
    public var maxPurchases = 75
    /// "Monthly Active Users CY 24-25" accounts: attributes+events+purchases combined (nil = no combined cap).
    public var maxCombinedUpdates: Int? = nil
    /// identify, alias/new, merge, delete, export/ids, subscription ids.
    public var maxIdentifiersPerRequest = 50
    public var maxCatalogItemsPerRequest = 50
    /// Event/purchase property payload with nested values: 50 KB.
    public var maxPropertyPayloadBytes = 50 * 1024
    /// Strings in properties and custom attributes, and property names.
    public var maxStringLength = 255
    public var maxBodyBytes = 8 * 1024 * 1024

    public init() {}
}

/// Everything the sandbox needs: accepted keys, rate limits, request limits and the clock.
public struct BrazeSandboxConfiguration: Sendable {
    public var apiKeys: [BrazeAPIKey]
    /// Applied to each Braze rate-limit group separately, as Braze counts per group. nil = unlimited.
    public var rateLimit: BrazeRateLimit?
    /// Per-group overrides of `rateLimit`.
    public var rateLimitOverrides: [BrazeRateLimitGroup: BrazeRateLimit]
    public var limits: BrazeRequestLimits
    /// Wall clock; tests may inject a fixed or stepping one.
    public var now: @Sendable () -> Date
    /// How many request-log entries to keep (oldest dropped first).
    public var maxLoggedRequests: Int

    public init(
        apiKeys: [BrazeAPIKey] = [BrazeAPIKey("sandbox-api-key")],
        rateLimit: BrazeRateLimit? = nil,
        rateLimitOverrides: [BrazeRateLimitGroup: BrazeRateLimit] = [:],
        limits: BrazeRequestLimits = .init(),
        maxLoggedRequests: Int = 10_000,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.apiKeys = apiKeys
        self.rateLimit = rateLimit
        self.rateLimitOverrides = rateLimitOverrides
        self.limits = limits
        self.maxLoggedRequests = maxLoggedRequests
        self.now = now
    }

    func rateLimit(for group: BrazeRateLimitGroup) -> BrazeRateLimit? {
        rateLimitOverrides[group] ?? rateLimit
    }
}
