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

    /// Braze's documented default for /users/track: 3,000 requests per 3 seconds (`_docs/_api/api_limits.md`).
    public static let usersTrackDefault = BrazeRateLimit(requests: 3000, windowSeconds: 3)

    /// The default limit of every group the sandbox serves, from `_docs/_api/api_limits.md` ("Rate limits by request type"):
    /// /users/track 3,000 per 3 s; /users/delete, /users/alias/new, /users/identify, /users/merge 20,000 per minute shared;
    /// /users/export/ids 250 per minute (workspaces onboarded on or after 2024-08-22; 2,500 before);
    /// /subscription/status/set 5,000 per minute; /catalogs 50 per minute; asynchronous catalog item endpoints 16,000 per minute.
    public static let documented: [BrazeRateLimitGroup: BrazeRateLimit] = [
        .usersTrack: usersTrackDefault,
        .usersIdentity: BrazeRateLimit(requests: 20_000, windowSeconds: 60),
        .usersExport: BrazeRateLimit(requests: 250, windowSeconds: 60),
        .subscription: BrazeRateLimit(requests: 5_000, windowSeconds: 60),
        .catalogs: BrazeRateLimit(requests: 50, windowSeconds: 60),
        .catalogItems: BrazeRateLimit(requests: 16_000, windowSeconds: 60),
    ]
}

/// Per-request size limits Braze enforces (defaults from the Braze docs; all configurable).
public struct BrazeRequestLimits: Sendable, Hashable {
    /// /users/track: attributes + events + purchases objects in total per request. Braze's current rate-limit page: 75;
    /// "Monthly Active Users CY 24-25" accounts: 50 (`post_user_track.md`). Ignored when `legacyPerArrayLimits` is set.
    public var maxTrackObjects = 75
    /// Legacy accounts: no combined cap, only the per-array caps below (75 each, 225 in all; `api_limits.md` batching section).
    public var legacyPerArrayLimits = false
    /// Per-array caps, always checked (with the combined default of 75 they never bind first).
    public var maxAttributes = 75
    public var maxEvents = 75
    public var maxPurchases = 75
    /// identify, alias/new, merge, delete, export/ids, subscription ids.
    public var maxIdentifiersPerRequest = 50
    public var maxCatalogItemsPerRequest = 50
    /// Event property payload with array or object values: "up to 100 KB" (`event_object.md`), counted as 100,000 bytes
    /// of the properties' JSON so the sandbox never accepts what Braze could refuse.
    public var maxEventPropertyBytes = 100_000
    /// Purchase property payload with array or object values: "up to 50 KB" (`purchase_object.md`), 50,000 bytes.
    public var maxPurchasePropertyBytes = 50_000
    /// Strings in properties and custom attributes, and property names.
    public var maxStringLength = 255
    /// "All API endpoints have a data payload limit of 4 MB" (`_docs/_api/endpoints/user_data.md`): 4,000,000 bytes; above → 413.
    public var maxBodyBytes = 4_000_000

    public init() {}

    /// The combined cap in force, nil in legacy per-array mode.
    var combinedTrackCap: Int? { legacyPerArrayLimits ? nil : maxTrackObjects }
}

/// Everything the sandbox needs: accepted keys, rate limits, request limits and the clock.
public struct BrazeSandboxConfiguration: Sendable {
    public var apiKeys: [BrazeAPIKey]
    /// When set, applied to every Braze rate-limit group (each counted separately, as Braze counts per group),
    /// replacing the documented defaults. nil = the documented limit of each group (`rateLimitDefaults`).
    public var rateLimit: BrazeRateLimit?
    /// Per-group overrides of `rateLimit` and of the defaults.
    public var rateLimitOverrides: [BrazeRateLimitGroup: BrazeRateLimit]
    /// The limit of a group when neither `rateLimitOverrides` nor `rateLimit` names one; a group missing here is unlimited.
    /// Defaults to Braze's documented limits; `[:]` makes the sandbox unlimited.
    public var rateLimitDefaults: [BrazeRateLimitGroup: BrazeRateLimit]
    public var limits: BrazeRequestLimits
    /// Wall clock; tests may inject a fixed or stepping one.
    public var now: @Sendable () -> Date
    /// How many request-log entries to keep (oldest dropped first).
    public var maxLoggedRequests: Int

    public init(
        apiKeys: [BrazeAPIKey] = [BrazeAPIKey("sandbox-api-key")],
        rateLimit: BrazeRateLimit? = nil,
        rateLimitOverrides: [BrazeRateLimitGroup: BrazeRateLimit] = [:],
        rateLimitDefaults: [BrazeRateLimitGroup: BrazeRateLimit] = BrazeRateLimit.documented,
        limits: BrazeRequestLimits = .init(),
        maxLoggedRequests: Int = 10_000,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.apiKeys = apiKeys
        self.rateLimit = rateLimit
        self.rateLimitOverrides = rateLimitOverrides
        self.rateLimitDefaults = rateLimitDefaults
        self.limits = limits
        self.maxLoggedRequests = maxLoggedRequests
        self.now = now
    }

    func rateLimit(for group: BrazeRateLimitGroup) -> BrazeRateLimit? {
        rateLimitOverrides[group] ?? rateLimit ?? rateLimitDefaults[group]
    }
}
