/// The storage the processor reads and writes while it handles a chunk of the event log; every
/// call of one chunk happens in one transaction together with the chunk's outbox operations and
/// the new log position, so a crash never leaves half a chunk behind (repository pattern).
public protocol ProcessorState {
    func visitor(shop: String, id: String) throws -> Visitor?
    func save(_ visitor: Visitor) throws
    /// Appends to the link history: which customer a visitor was linked to, when, on what evidence.
    func recordLink(shop: String, visitorId: String, customerId: String, evidence: LinkEvidence, at: EpochMillis) throws
    func customer(shop: String, id: String) throws -> Customer?
    func save(_ customer: Customer) throws
    func cart(shop: String, token: String) throws -> CartSnapshot?
    func cart(shop: String, checkoutToken: String) throws -> CartSnapshot?
    func save(_ cart: CartSnapshot) throws
    /// Carts the visitor was seen with, most recent first.
    func carts(shop: String, visitorId: String) throws -> [CartSnapshot]
    /// Forgets what ties the visitor's behaviour so far to it (its product-view history and its carts'
    /// owner), when another customer takes over the device.
    func detachBehaviour(shop: String, visitorId: String) throws
    /// When this visitor last had this product view sent or held (for de-duplication), then records `time`.
    func swapProductView(shop: String, visitorId: String, productKey: String, time: EpochMillis) throws -> EpochMillis?
    /// The visitor's stored events with these names at or after `since` and before `position`, oldest first.
    func events(shop: String, visitorId: String, names: [String], since: EpochMillis, before position: Int64) throws -> [LoggedEvent]
    /// True the first time `key` is marked for the shop (an event that must go to Braze once).
    func markOnce(shop: String, key: String) throws -> Bool
    /// Whether `key` was marked for the shop (reads only).
    func isMarked(shop: String, key: String) throws -> Bool
    /// The `updated_at` (epoch ms) last applied for a Shopify resource, to never regress.
    func resourceVersion(shop: String, kind: String, id: String) throws -> EpochMillis?
    func resourceBody(shop: String, kind: String, id: String) throws -> String?
    func saveResource(shop: String, kind: String, id: String, updatedAt: EpochMillis, body: String?, deleted: Bool) throws
    /// Every resource of a kind that is not deleted, by id (the catalog's items, for a full sync).
    func resources(shop: String, kind: String) throws -> [(id: String, updatedAt: EpochMillis, body: String?)]
    func uninstalledAt(shop: String) throws -> EpochMillis?
    func setUninstalled(shop: String, at: EpochMillis?) throws
    /// Everything stored about a customer, its visitors and its orders (those named and those found
    /// by customer id or email), as JSON (a `customers/data_request` export).
    func export(shop: String, customerId: String, emails: [String], orderIds: [String]) throws -> JSONValue
    /// Deletes every stored copy of the customer's personal data logged before the redact delivery
    /// (see `CustomerRedaction`); returns what it deleted, per kind.
    func redact(shop: String, _ redaction: CustomerRedaction) throws -> RedactionReport
    /// Replaces a logged delivery's payload (a compliance request, once handled, keeps ids only).
    func scrubDelivery(shop: String, position: Int64, properties: String) throws
    /// Deletes everything stored for a shop.
    func redactShop(_ shop: String) throws
    /// An audit record without personal data.
    func audit(shop: String, action: String, detail: String, at: EpochMillis) throws
    func enqueue(_ operations: [BrazeOperation]) throws
    /// The abandonment timers, in the same transaction.
    var timers: any AbandonmentTimerStore { get }
    /// Counts a security event (a refused claim) per shop, kind, reason and day; no visitor is kept.
    func securityEvent(shop: String, kind: String, detail: String, at: EpochMillis) throws
    /// The time (the earlier of event and receipt time) of the first logged event the processor has not
    /// handled yet; nil when it has handled everything.
    func firstUnprocessedTime() throws -> EpochMillis?
}

/// What a `customers/redact` covers: the customer, the contact details Shopify sent and we stored,
/// the orders named, and every Braze identifier the customer may have had.
public struct CustomerRedaction: Sendable, Equatable {
    public var customerId: String
    /// Lower-cased.
    public var emails: [String]
    public var phones: [String]
    public var orderIds: [String]
    /// The customer's Braze external ids under every strategy (outbox payloads are matched on them).
    public var externalIds: [String]
    /// The redact delivery's log position: rows logged before it are in scope.
    public var before: Int64

    public init(customerId: String, emails: [String], phones: [String], orderIds: [String], externalIds: [String], before: Int64) {
        self.customerId = customerId
        self.emails = emails
        self.phones = phones
        self.orderIds = orderIds
        self.externalIds = externalIds
        self.before = before
    }
}

/// What a redact deleted, per kind, for the audit row (counts only, no personal data).
public struct RedactionReport: Sendable, Equatable {
    public var visitors: [String] = []
    public var customers = 0
    /// Storefront and pixel events (held or processed).
    public var events = 0
    public var webhookDeliveries = 0
    public var resources = 0
    public var carts = 0
    public var links = 0
    public var timers = 0
    public var outbox = 0
    public var deadLetters = 0
    public var backfillRows = 0
    /// Earlier `customers/data_request` export files (counted by the caller, which owns the files).
    public var exportFiles = 0

    public init() {}

    /// `deleted: 1 customer, 2 visitors, 14 events, …`
    public var summary: String {
        let parts: [(Int, String)] = [
            (customers, "customer"), (visitors.count, "visitor"), (events, "event"), (webhookDeliveries, "webhook delivery"),
            (resources, "resource"), (carts, "cart"), (links, "visitor link"), (timers, "abandonment timer"), (outbox, "unsent outbox op"),
            (deadLetters, "dead letter"), (backfillRows, "backfill staging row"), (exportFiles, "export file"),
        ]
        return "deleted: " + parts.map { count, noun in
            "\(count) \(count == 1 ? noun : (noun.hasSuffix("y") ? String(noun.dropLast()) + "ies" : noun + "s"))"
        }.joined(separator: ", ")
    }
}
