import Foundation

/// What a backfill is about to send, printed before anything is enqueued: counts, Braze data points, requests and trigger risk.
public struct BackfillPlan: Sendable, Equatable {
    public var shop: String
    public var windowStart: EpochMillis
    public var days: Int
    public var requestedDays: Int
    /// The clamp warning, when the window was shortened.
    public var warning: String?
    public var naming: EventNaming
    /// Customers whose attributes are sent (an external id is known and something differs from what was last sent).
    public var customers = 0
    /// Staged customers without an external id under the shop's strategy, or with nothing new to send.
    public var customersSkipped = 0
    /// Orders sent as events, and those skipped (guest, test, no external id, already placed by a webhook).
    public var orders = 0
    public var ordersSkipped = 0
    /// Customers unknown to ShopTrail with a marketing state: the most users that can get subscription states
    /// (Braze is asked at enqueue time which of them it already has).
    public var subscriptionCandidates = 0
    public var attributeDataPoints = 0
    public var eventDataPoints = 0
    public var purchaseDataPoints = 0
    /// Outbox operations (subscription operations counted at most as `subscriptionCandidates`).
    public var operations = 0
    /// The fewest `/users/track` requests once packed (75 objects of a kind per request), plus export lookups.
    public var brazeRequests = 0

    public var dataPoints: Int { attributeDataPoints + eventDataPoints + purchaseDataPoints }

    /// The Braze events that can trigger Canvases and campaigns.
    public var triggerEvents: [String] {
        naming == .ecommerce ? ["ecommerce.order_placed"] : ["shopify_created_order", "Purchase (one per line item)"]
    }

    /// The text shown to the operator before asking for confirmation.
    public func render() -> String {
        var lines = [
            "backfill plan for \(shop): \(days) days (orders created and customers updated since \(Timestamp.format(windowStart)))",
        ]
        if let warning { lines.append("WARNING: \(warning)") }
        lines += [
            "  customers:        \(customers) profiles (\(customersSkipped) skipped: no external id or nothing new)",
            "  orders:           \(orders) as events (\(ordersSkipped) skipped: guest, test, or already sent by a webhook)",
            "  subscriptions:    at most \(subscriptionCandidates) users get email/SMS subscription-group states (only users the backfill creates)",
            "  operations:       \(operations) into the outbox",
            "  data points:      ≈ \(dataPoints) (attributes \(attributeDataPoints), events \(eventDataPoints), purchases \(purchaseDataPoints); "
                + "subscription states and identifiers are free)",
            "  braze requests:   ≈ \(brazeRequests)",
            "RISK: these events will be sent with their original times and the property backfilled: true:",
        ]
        for name in triggerEvents { lines.append("    - \(name)") }
        lines.append("  Action-based Canvases and campaigns triggered by them can fire for historical orders unless they exclude backfilled: true.")
        return lines.joined(separator: "\n")
    }
}

/// Braze data points of `/users/track` objects, as Braze's "Data points" page counts them (braze-inc/braze-docs,
/// `_docs/_user_guide/data/data_points.md`, "Consumption count" and the billable / non-billable tables):
/// - every custom event is one (the recommended `ecommerce.*` events are custom events), every purchase is one;
///   event and purchase properties are billed only when enabled for segmentation, which the plan cannot know: not counted;
/// - every attribute set on a profile is one, standard ones included (first/last name, email, phone, city, and country
///   or language *when set through the API*; only automatically collected country and language are free); an array
///   set whole is one, `add`/`remove` one per value; a nested object one per key; setting `null` is one;
/// - free: identifiers (external id, user alias, braze id), subscription state changes (`subscription_groups`,
///   `email_subscribe`, `push_subscribe`), user aliases, deletions.
enum BrazeDataPoints {
    /// Keys of an attributes object that identify the user or change subscriptions: no data point.
    static let freeAttributeKeys: Set<String> = [
        "external_id", "user_alias", "braze_id", "_update_existing_only", "subscription_groups", "email_subscribe", "push_subscribe",
    ]

    /// Data points of one attributes object.
    static func attributes(_ object: JSONObject) -> Int {
        object.members.reduce(0) { sum, member in
            guard !freeAttributeKeys.contains(member.key) else { return sum }
            return sum + value(member.value)
        }
    }

    private static func value(_ value: JSONValue) -> Int {
        if let object = value.objectValue {
            // `{"add": [...]}` / `{"remove": [...]}`: one per value; any other object: one per key.
            let keys = Set(object.members.map(\.key))
            if !keys.isEmpty, keys.isSubset(of: ["add", "remove"]) {
                return object.members.reduce(0) { $0 + ($1.value.arrayValue?.count ?? 1) }
            }
            return max(1, object.members.count)
        }
        return 1
    }

    /// Data points of an outbox operation's payload (one `/users/track` object of its kind).
    static func of(_ operation: BrazeOperation) -> Int {
        switch operation.kind {
        case .attributes:
            guard let object = (try? JSONParser.parse(Array(operation.payload.utf8), maxDepth: 64))?.objectValue else { return 0 }
            return attributes(object)
        case .event, .purchase: return 1
        default: return 0
        }
    }
}

/// Where a running backfill is (for the progress bar or log lines); the callback may throw to stop the run.
public struct BackfillProgress: Sendable, Equatable {
    public var phase: BackfillJob.Phase
    /// Items handled in this phase, and how many there are (nil while unknown, e.g. while fetching).
    public var done: Int
    public var total: Int?
    public var counts: BackfillCounts
    public var shopify: ShopifyAdminStats
}

/// What a backfill run did.
public struct BackfillSummary: Sendable, Equatable {
    public var job: BackfillJob
    public var plan: BackfillPlan
    /// The run stopped after the plan (`--dry-run`): nothing enqueued.
    public var dryRun: Bool
    /// The run continued an interrupted one.
    public var resumed: Bool
    /// Operations this run put into the outbox.
    public var enqueued: Int
    public var shopify: ShopifyAdminStats
    /// `/users/export/ids` requests made by this run to learn which users exist, the 429s among them and the time waited.
    public var brazeLookups: BrazeUserLookup.Tally
    public var durationMillis: EpochMillis
}
