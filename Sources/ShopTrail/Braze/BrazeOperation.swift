/// One change to deliver to Braze: an object inside a `/users/track` request, or a whole call to
/// another endpoint. Operations are appended to the outbox and delivered at least once.
public struct BrazeOperation: Sendable, Equatable {
    /// What the payload is, which decides the endpoint and how operations are packed.
    public enum Kind: String, Sendable, CaseIterable {
        /// A `/users/track` attributes object.
        case attributes
        /// A `/users/track` event object.
        case event
        /// A `/users/track` purchase object.
        case purchase
        /// One `aliases_to_identify` entry of `/users/identify`.
        case identify
        /// One `user_aliases` entry of `/users/alias/new`.
        case aliasNew = "alias_new"
        /// One `merge_updates` entry of `/users/merge`.
        case merge
        /// One identifier of `/users/delete`.
        case delete
        /// A whole `/v2/subscription/status/set` body.
        case subscription
        /// A whole `POST /catalogs` body (one catalog). userKey `catalog:{name}`: it blocks the
        /// catalog's item operations queued after it (see `CatalogKey`).
        case catalogCreate = "catalog_create"
        /// One item of `PUT /catalogs/{name}/items` (create or replace). userKey `catalog:{name}:{item id}`.
        case catalogUpsert = "catalog_upsert"
        /// One `{"id": …}` of `DELETE /catalogs/{name}/items`. userKey `catalog:{name}:{item id}`.
        case catalogDelete = "catalog_delete"
    }

    /// Stable id, unique per shop: re-deriving the same operation (a replay) enqueues nothing new.
    public var id: String
    public var shop: String
    /// Operations with the same key are delivered in enqueue order (an identify never overtakes
    /// the events that depend on it). Usually the external id or the alias.
    public var userKey: String
    public var kind: Kind
    /// The Braze object or request body, as JSON text.
    public var payload: String
    public var createdAt: EpochMillis

    public init(id: String, shop: String, userKey: String, kind: Kind, payload: String, createdAt: EpochMillis) {
        self.id = id
        self.shop = shop
        self.userKey = userKey
        self.kind = kind
        self.payload = payload
        self.createdAt = createdAt
    }
}

/// An operation waiting in the outbox, with its delivery history.
public struct OutboxEntry: Sendable, Equatable {
    /// Position in the outbox (enqueue order).
    public var seq: Int64
    public var operation: BrazeOperation
    public var attempts: Int
    public var lastError: String?
}

/// Counts for `shoptrail outbox status` and the dashboard.
public struct OutboxStatus: Sendable, Equatable {
    public var pending: Int
    /// Claimed by a forwarder and not yet answered.
    public var inFlight: Int
    public var dead: Int
    /// Age of the oldest pending operation, in milliseconds (nil when none is pending).
    public var oldestPendingAgeMillis: EpochMillis?
}

/// The durable queue of Braze operations (repository pattern): at least once, per-user order.
public protocol Outbox: Sendable {
    /// Appends operations; ones whose `(shop, id)` is already in the outbox or dead-lettered are
    /// skipped. Returns how many were added.
    @discardableResult
    func enqueue(_ operations: [BrazeOperation]) async throws -> Int
    /// Claims up to `limit` deliverable operations of `shop` for `leaseMillis`, in enqueue order.
    /// An operation is deliverable when it is due and no earlier operation of the same user is
    /// still waiting (so a user's order survives retries), and, for a catalog item, no earlier
    /// create operation of its catalog is still waiting (`CatalogKey`).
    func claim(shop: String, now: EpochMillis, limit: Int, leaseMillis: EpochMillis) async throws -> [OutboxEntry]
    /// Gives claimed operations back untouched (they did not fit in a request).
    func release(_ seqs: [Int64]) async throws
    /// Removes delivered operations; with a receipt, records Braze's answer for each in the delivery log
    /// in the same transaction.
    func complete(_ seqs: [Int64], receipt: DeliveryReceipt?) async throws
    /// Releases operations for another attempt at `at`, counting the attempt.
    func retry(_ seqs: [Int64], at: EpochMillis, error: String) async throws
    /// Moves permanently rejected operations to the dead-letter table with the reason (and the answer to the delivery log).
    func deadLetter(_ seqs: [Int64], reason: String, now: EpochMillis, receipt: DeliveryReceipt?) async throws
    /// Releases every claim (at start-up: a single forwarder's claims died with the old process).
    func releaseClaims() async throws
    func status(shop: String?, now: EpochMillis) async throws -> OutboxStatus
    /// Moves dead-lettered operations back into the outbox; returns how many.
    func retryDead(shop: String?) async throws -> Int
    /// The most recent dead letters, newest first.
    func deadLetters(shop: String?, limit: Int) async throws -> [DeadLetter]
    /// Returns when operations may have been added (or after `timeout`): the forwarder waits on it when idle.
    func waitForWork(timeout: Duration) async
    /// Operations whose id starts with `opIdPrefix` still pending, and those dead-lettered (one run's, e.g. a catalog sync).
    func count(shop: String, opIdPrefix: String) async throws -> (pending: Int, dead: Int)
}

extension Outbox {
    /// Removes delivered operations without recording an answer.
    public func complete(_ seqs: [Int64]) async throws { try await complete(seqs, receipt: nil) }
    /// Dead-letters without recording an answer.
    public func deadLetter(_ seqs: [Int64], reason: String, now: EpochMillis) async throws {
        try await deadLetter(seqs, reason: reason, now: now, receipt: nil)
    }
}

/// An operation Braze rejected for good, with Braze's reason.
public struct DeadLetter: Sendable, Equatable {
    public var operation: BrazeOperation
    public var attempts: Int
    public var reason: String
    public var diedAt: EpochMillis
}
