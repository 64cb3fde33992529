/// Which operations a claim may take, decided once for every engine: the shop's queue is walked in
/// enqueue order, and a user whose earliest operation is not deliverable (backing off, or claimed)
/// blocks that user's later operations. A catalog's create operation (`catalog:{name}`) also blocks
/// every item of that catalog queued after it, until Braze has answered it.
struct OutboxClaimWalk {
    /// One queued row as the walk sees it.
    struct Row {
        var seq: Int64
        var opId: String
        var shop: String
        var userKey: String
        var kind: String
        var payload: String
        var createdAt: EpochMillis
        var attempts: Int
        var lastError: String?
        var nextAttemptAt: EpochMillis
        var leaseUntil: EpochMillis
    }

    let now: EpochMillis
    let limit: Int
    private var blocked = Set<String>()
    private(set) var claimed: [OutboxEntry] = []

    init(now: EpochMillis, limit: Int) {
        self.now = now
        self.limit = limit
    }

    var isFull: Bool { claimed.count >= limit }

    mutating func consider(_ row: Row) {
        guard !isFull, !blocked.contains(row.userKey) else { return }
        if !blocked.isEmpty, let barrier = CatalogKey.barrier(of: row.userKey), blocked.contains(barrier) {
            blocked.insert(row.userKey)
            return
        }
        guard row.nextAttemptAt <= now, row.leaseUntil <= now, let kind = BrazeOperation.Kind(rawValue: row.kind) else {
            blocked.insert(row.userKey)
            return
        }
        // Claimed now, but its items must still wait for Braze's answer to it.
        if kind == .catalogCreate { blocked.insert(row.userKey) }
        claimed.append(OutboxEntry(
            seq: row.seq,
            operation: BrazeOperation(id: row.opId, shop: row.shop, userKey: row.userKey, kind: kind, payload: row.payload, createdAt: row.createdAt),
            attempts: row.attempts, lastError: row.lastError))
    }
}
