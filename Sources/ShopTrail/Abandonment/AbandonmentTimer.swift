/// One durable abandonment timer: for a browsing visitor, a cart or a checkout; re-armed by activity,
/// closed by firing or by the activity that made it moot.
public struct AbandonmentTimer: Sendable, Equatable {
    public var shop: String
    public var kind: AbandonmentKind
    /// What the timer watches: the visitor id (browse), the cart token (cart) or the checkout token (checkout).
    public var subject: String
    public var visitorId: String?
    /// Known when armed; otherwise looked up through the visitor when the timer is due.
    public var customerId: String?
    public var state: AbandonmentTimerState
    /// The first activity of this arming (the browse session's first view).
    public var armedAt: EpochMillis
    public var dueAt: EpochMillis
    /// Bumped each time a closed timer is armed again: one Braze event per generation at most.
    public var generation: Int
    /// What the event will carry, as JSON: viewed products, the cart, or the checkout.
    public var detail: String
    /// Why it closed (cancelled by an order, suppressed by the cool-down, …).
    public var reason: String?
    public var closedAt: EpochMillis?

    public init(shop: String, kind: AbandonmentKind, subject: String, visitorId: String?, customerId: String?, armedAt: EpochMillis,
                dueAt: EpochMillis, generation: Int = 1, detail: String, state: AbandonmentTimerState = .armed) {
        self.shop = shop
        self.kind = kind
        self.subject = subject
        self.visitorId = visitorId
        self.customerId = customerId
        self.state = state
        self.armedAt = armedAt
        self.dueAt = dueAt
        self.generation = generation
        self.detail = detail
    }
}

/// Where a timer stands.
public enum AbandonmentTimerState: String, Sendable, CaseIterable {
    case armed
    /// The Braze event was queued.
    case fired
    /// Later activity made it moot (add to cart, checkout, order, emptied cart, newer cart).
    case cancelled
    /// Due while the visitor was still anonymous: nothing can be sent.
    case expired
    /// Due but held back: cool-down, minimum cart value, kind disabled.
    case suppressed
}

/// What the counters count per shop and kind (cumulative; `armed` counts armings, not re-arms).
public enum AbandonmentOutcome: String, Sendable, CaseIterable {
    case armed, rearmed, fired, cancelled, expired, suppressed
}
