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
    /// When this visitor last had this product view sent or held (for de-duplication), then records `time`.
    func swapProductView(shop: String, visitorId: String, productKey: String, time: EpochMillis) throws -> EpochMillis?
    /// The visitor's stored events with these names at or after `since` and before `position`, oldest first.
    func events(shop: String, visitorId: String, names: [String], since: EpochMillis, before position: Int64) throws -> [LoggedEvent]
    /// Whether a `checkout_started` was already sent for this checkout; marks it sent.
    func markCheckoutSent(shop: String, checkoutId: String) throws -> Bool
    func enqueue(_ operations: [BrazeOperation]) throws
    func securityEvent(shop: String, visitorId: String?, kind: String, detail: String, at: EpochMillis) throws
}
