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
    /// The `updated_at` (epoch ms) last applied for a Shopify resource, to never regress.
    func resourceVersion(shop: String, kind: String, id: String) throws -> EpochMillis?
    func resourceBody(shop: String, kind: String, id: String) throws -> String?
    func saveResource(shop: String, kind: String, id: String, updatedAt: EpochMillis, body: String?, deleted: Bool) throws
    /// Every resource of a kind that is not deleted, by id (the catalog's items, for a full sync).
    func resources(shop: String, kind: String) throws -> [(id: String, updatedAt: EpochMillis, body: String?)]
    func uninstalledAt(shop: String) throws -> EpochMillis?
    func setUninstalled(shop: String, at: EpochMillis?) throws
    /// Everything stored about a customer and its visitors, as JSON (a `customers/data_request` export).
    func export(shop: String, customerId: String) throws -> JSONValue
    /// Deletes a customer, its visitors and their events, carts and links; returns the visitor ids.
    func redact(shop: String, customerId: String) throws -> [String]
    /// Deletes everything stored for a shop.
    func redactShop(_ shop: String) throws
    /// An audit record without personal data.
    func audit(shop: String, action: String, detail: String, at: EpochMillis) throws
    func enqueue(_ operations: [BrazeOperation]) throws
    /// The abandonment timers, in the same transaction.
    var timers: any AbandonmentTimerStore { get }
    func securityEvent(shop: String, visitorId: String?, kind: String, detail: String, at: EpochMillis) throws
}
