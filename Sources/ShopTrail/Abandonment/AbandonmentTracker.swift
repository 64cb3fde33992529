import Foundation

/// Arms, re-arms and cancels abandonment timers from the events the processor handles, inside the
/// processor's transaction (so a timer change commits with the event that caused it).
///
/// Rules (docs/abandonment.md): a product view arms browse unless the visitor already has a cart or
/// checkout timer; a cart change with items cancels browse and (re-)arms the cart; an emptied cart
/// cancels it; a checkout cancels browse and cart and arms checkout; an order cancels all three for
/// its visitor, cart, checkout and customer. A customer's newer cart supersedes its other carts.
struct AbandonmentTracker {
    /// Viewed products kept in an armed browse timer; the event carries up to the shop's limit.
    static let maxKeptProducts = 50

    // MARK: Storefront

    /// A product page view: arm (or extend) the visitor's browse timer with the product first.
    func productViewed(_ product: JSONObject, visitor: Visitor, at time: EpochMillis, shop: ShopConfig, state: any ProcessorState) throws {
        let config = shop.abandonment
        guard config.browse.enabled else { return }
        let timers = state.timers
        if try timers.hasArmed(shop: shop.domain, kinds: [.cart, .checkout], visitorId: visitor.id, customerId: visitor.customerId) { return }
        let key = product["variant_id"]?.idString ?? product["product_id"]?.idString ?? ""
        guard var timer = try arm(.browse, subject: visitor.id, visitorId: visitor.id, customerId: visitor.customerId, at: time, shop: shop, timers: timers)
        else { return }
        // Most recent first, one entry per product variant.
        let kept = ((try? JSONParser.parse(Array(timer.detail.utf8)))?.arrayValue ?? [])
            .filter { ($0.objectValue?["variant_id"]?.idString ?? $0.objectValue?["product_id"]?.idString ?? "") != key }
        let viewed = JSONObject(product.members + [("viewed_at", .string(Timestamp.format(time)))])
        timer.detail = JSONValue.array(Array(([.object(viewed)] + kept).prefix(Self.maxKeptProducts))).serialized
        try timers.save(timer)
    }

    /// A whole-cart snapshot from the storefront (`cart_updated`).
    func cartChanged(_ cart: JSONObject, token: String, checkedOut: Bool, visitor: Visitor, at time: EpochMillis, shop: ShopConfig,
                     state: any ProcessorState) throws {
        let config = shop.abandonment
        guard config.anyEnabled else { return }
        let timers = state.timers
        let hasItems = (cart["items"]?.arrayValue ?? []).contains { ($0.objectValue?["quantity"]?.quantityValue ?? 0) > 0 }
        if !hasItems {
            try cancel(timers, shop: shop, kinds: [.cart], subjects: [token], reason: "cart emptied", at: time)
            return
        }
        try cancel(timers, shop: shop, kinds: [.browse], visitorIds: [visitor.id], customerId: visitor.customerId, reason: "added to cart", at: time)
        guard config.cart.enabled, !checkedOut else { return }
        guard var timer = try arm(.cart, subject: token, visitorId: visitor.id, customerId: visitor.customerId, at: time, shop: shop, timers: timers)
        else { return }
        timer.detail = JSONValue.object(cart).serialized
        try timers.save(timer)
        // One customer, two devices: the cart touched last is the one worth a message.
        if let customerId = visitor.customerId {
            try cancel(timers, shop: shop, kinds: [.cart], customerId: customerId, except: token, reason: "newer cart of the customer", at: time)
        }
    }

    /// A checkout started or changed (pixel `checkout_started` or `checkouts/create|update`); a completed one is an order.
    func checkoutActive(_ checkout: JSONObject, checkoutToken: String, cartToken: String?, visitorId: String?, customerId: String?,
                        at time: EpochMillis, shop: ShopConfig, state: any ProcessorState) throws {
        let config = shop.abandonment
        guard config.anyEnabled else { return }
        let timers = state.timers
        try cancel(timers, shop: shop, kinds: [.browse, .cart], visitorIds: visitorId.map { [$0] } ?? [], customerId: customerId,
                   subjects: cartToken.map { [$0] } ?? [], reason: "checkout started", at: time)
        guard config.checkout.enabled else { return }
        let existing = try timers.timer(shop: shop.domain, kind: .checkout, subject: checkoutToken)
        // A webhook's checkout (with its recovery URL) is never replaced by the pixel's thinner one.
        let richer = existing.flatMap { (try? JSONParser.parse(Array($0.detail.utf8)))?.objectValue?["abandoned_checkout_url"] } != nil
            && checkout["abandoned_checkout_url"] == nil
        guard var timer = try arm(.checkout, subject: checkoutToken, visitorId: visitorId ?? existing?.visitorId,
                                  customerId: customerId ?? existing?.customerId, at: time, shop: shop, timers: timers) else { return }
        if !richer || timer.detail.isEmpty { timer.detail = JSONValue.object(checkout).serialized }
        try timers.save(timer)
    }

    /// An order (or a completed checkout): nothing of this visitor, cart, checkout or customer is abandoned.
    func ordered(visitorIds: [String], customerId: String?, cartToken: String?, checkoutToken: String?, at time: EpochMillis,
                 shop: ShopConfig, state: any ProcessorState) throws {
        guard shop.abandonment.anyEnabled else { return }
        try cancel(state.timers, shop: shop, kinds: AbandonmentKind.allCases, visitorIds: visitorIds, customerId: customerId,
                   subjects: [cartToken, checkoutToken].compactMap { $0 }, reason: "ordered", at: time)
    }

    /// Another customer signed in on the visitor's device. The browse and cart timers were built
    /// from what the earlier customer did there: they are cancelled, never handed to the new one.
    /// A checkout the visitor started stays the earlier customer's.
    func customerChanged(visitorId: String, from previous: String, at time: EpochMillis, shop: ShopConfig, state: any ProcessorState) throws {
        let timers = state.timers
        try cancel(timers, shop: shop, kinds: [.browse, .cart], visitorIds: [visitorId], reason: "another customer on the device", at: time)
        try timers.assignUnowned(shop: shop.domain, kinds: [.checkout], visitorId: visitorId, customerId: previous)
    }

    // MARK: Webhooks

    /// Checkouts and orders from Shopify's webhooks (already HMAC-verified and logged).
    func webhook(topic: String, body: JSONObject, at time: EpochMillis, shop: ShopConfig, state: any ProcessorState) throws {
        guard shop.abandonment.anyEnabled, topic.hasPrefix("checkouts/") || topic.hasPrefix("orders/") else { return }
        let cartToken = CartSnapshot.token(body["cart_token"])
        let customerId = (body["customer"]?.objectValue?["id"] ?? body["customer_id"])?.idString
        let visitorId = try cartToken.flatMap { try state.cart(shop: shop.domain, token: $0) }?.visitorId
        if topic.hasPrefix("orders/") {
            try ordered(visitorIds: visitorId.map { [$0] } ?? [], customerId: customerId, cartToken: cartToken,
                        checkoutToken: body["checkout_token"]?.stringValue, at: time, shop: shop, state: state)
            return
        }
        guard let token = body["token"]?.stringValue, !token.isEmpty else { return }
        if body["completed_at"]?.stringValue != nil {
            try ordered(visitorIds: visitorId.map { [$0] } ?? [], customerId: customerId, cartToken: cartToken, checkoutToken: token,
                        at: time, shop: shop, state: state)
            return
        }
        // Re-armed from the checkout's own last change, not from when the delivery arrived.
        let updated = Timestamp.parse(body["updated_at"]?.stringValue ?? "") ?? time
        try checkoutActive(body, checkoutToken: token, cartToken: cartToken, visitorId: visitorId, customerId: customerId,
                           at: updated, shop: shop, state: state)
    }

    // MARK: Timers

    /// The timer for `subject`, armed (or re-armed) to fire one window after `time`; nil when `time` is
    /// older than the timer's closing (a late delivery does not revive a fired or cancelled timer).
    private func arm(_ kind: AbandonmentKind, subject: String, visitorId: String?, customerId: String?, at time: EpochMillis,
                     shop: ShopConfig, timers: any AbandonmentTimerStore) throws -> AbandonmentTimer? {
        let window = shop.abandonment[kind].windowMillis
        if var timer = try timers.timer(shop: shop.domain, kind: kind, subject: subject) {
            if timer.state == .armed {
                // Deliveries out of order never pull a timer back.
                timer.dueAt = max(timer.dueAt, time + window)
                timer.visitorId = timer.visitorId ?? visitorId
                timer.customerId = customerId ?? timer.customerId
                try timers.count(shop: shop.domain, kind: kind, .rearmed, by: 1)
                return timer
            }
            if let closed = timer.closedAt, time < closed { return nil }
            timer = AbandonmentTimer(shop: shop.domain, kind: kind, subject: subject, visitorId: visitorId ?? timer.visitorId,
                                     customerId: customerId ?? timer.customerId, armedAt: time, dueAt: time + window,
                                     generation: timer.generation + 1, detail: "")
            try timers.count(shop: shop.domain, kind: kind, .armed, by: 1)
            return timer
        }
        try timers.count(shop: shop.domain, kind: kind, .armed, by: 1)
        return AbandonmentTimer(shop: shop.domain, kind: kind, subject: subject, visitorId: visitorId, customerId: customerId,
                                armedAt: time, dueAt: time + window, detail: "")
    }

    private func cancel(_ timers: any AbandonmentTimerStore, shop: ShopConfig, kinds: [AbandonmentKind], visitorIds: [String] = [],
                        customerId: String? = nil, subjects: [String] = [], except: String? = nil, reason: String, at time: EpochMillis) throws {
        let cancelled = try timers.cancelArmed(shop: shop.domain, kinds: kinds, visitorIds: visitorIds, customerId: customerId, subjects: subjects,
                                               except: except, reason: reason, at: time)
        for kind in AbandonmentKind.allCases {
            try timers.count(shop: shop.domain, kind: kind, .cancelled, by: cancelled.filter { $0 == kind }.count)
        }
    }
}
