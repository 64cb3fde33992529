/// Durable abandonment timers, read and written inside the caller's transaction (repository pattern):
/// the processor arms and cancels them with the events that cause it, the scheduler fires them
/// together with the Braze operation, so a timer fires at most once per arming.
public protocol AbandonmentTimerStore {
    func timer(shop: String, kind: AbandonmentKind, subject: String) throws -> AbandonmentTimer?
    func save(_ timer: AbandonmentTimer) throws
    /// Cancels the armed timers of `kinds` that match any of the visitors, the customer (directly or
    /// through its linked visitors) or the subjects; returns the cancelled timers' kinds.
    func cancelArmed(shop: String, kinds: [AbandonmentKind], visitorIds: [String], customerId: String?, subjects: [String],
                     except: String?, reason: String, at: EpochMillis) throws -> [AbandonmentKind]
    /// Gives the visitor's armed timers of `kinds` that name no customer to `customerId` (so a later
    /// owner of the device is never looked up for them).
    func assignUnowned(shop: String, kinds: [AbandonmentKind], visitorId: String, customerId: String) throws
    /// True when the visitor (or its customer) has an armed timer of one of `kinds`.
    func hasArmed(shop: String, kinds: [AbandonmentKind], visitorId: String, customerId: String?) throws -> Bool
    /// Armed timers due at or before `time`, earliest first.
    func due(before time: EpochMillis, limit: Int) throws -> [AbandonmentTimer]
    func lastFired(shop: String, kind: AbandonmentKind, target: String) throws -> EpochMillis?
    func setLastFired(shop: String, kind: AbandonmentKind, target: String, at: EpochMillis) throws
    func count(shop: String, kind: AbandonmentKind, _ outcome: AbandonmentOutcome, by: Int) throws
    /// Per kind: timers armed now and when the next is due.
    func armed(shop: String) throws -> [AbandonmentKind: (count: Int, nextDueAt: EpochMillis?)]
    /// Per kind: the cumulative outcome counts.
    func outcomes(shop: String) throws -> [AbandonmentKind: [AbandonmentOutcome: Int]]
}
