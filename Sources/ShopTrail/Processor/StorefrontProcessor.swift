import Foundation
import Logging

/// Turns one logged storefront or pixel event into identity changes and Braze operations.
///
/// Identity rules (DESIGN.md, Identity): verified evidence links a visitor to a customer; a
/// different customer on the same device re-links from that moment on and the two customers are
/// never merged; unsigned or badly signed claims are refused and recorded as security events.
/// Operation ids derive from the event's `(source, event_id)`, so re-processing adds nothing.
public struct StorefrontProcessor: Sendable {
    public var shops: [String: ShopConfig]
    public var logger: Logger
    /// A product viewed again by the same visitor within this window is not sent again (reloads, back button).
    public var productViewDedupeMillis: EpochMillis = 30 * 60_000
    /// Product views replayed when a held visitor becomes known (most recent, distinct products).
    public var replayProductViews = 20

    var webhooks: ShopifyWebhookProcessor
    var abandonment = AbandonmentTracker()

    /// `exportDirectory`: where `customers/data_request` exports go (the data directory).
    public init(shops: [ShopConfig], exportDirectory: String? = nil, logger: Logger) {
        self.shops = Dictionary(shops.map { ($0.domain, $0) }, uniquingKeysWith: { first, _ in first })
        self.logger = logger
        self.webhooks = ShopifyWebhookProcessor(logger: logger, exportDirectory: exportDirectory)
    }

    public func process(_ logged: LoggedEvent, state: any ProcessorState) throws {
        let event = logged.event
        guard let shop = shops[event.shop] else { return }
        if event.source == .webhook {
            let userKey = try linkThroughCartToken(logged, shop: shop, state: state)
            try webhooks.process(logged, shop: shop, state: state, userKey: userKey)
            if shop.abandonment.anyEnabled, event.name.hasPrefix("checkouts/") || event.name.hasPrefix("orders/"),
               let body = (try? JSONParser.parse(Array(event.properties.utf8)))?.objectValue {
                try abandonment.webhook(topic: event.name, body: body, at: event.time, shop: shop, state: state)
            }
            return
        }
        guard let visitorId = event.visitorId, try state.uninstalledAt(shop: shop.domain) == nil else { return }
        let context = event.context.flatMap { try? JSONParser.parse(Array($0.utf8)) }?.objectValue
        let verified = event.verified.flatMap { try? JSONParser.parse(Array($0.utf8)) }?.objectValue
        let properties = (try? JSONParser.parse(Array(event.properties.utf8)))?.objectValue ?? JSONObject()
        var visitor = try state.visitor(shop: shop.domain, id: visitorId) ?? Visitor(shop: shop.domain, id: visitorId, firstSeen: event.time)
        visitor.lastSeen = max(visitor.lastSeen, event.time)
        var ops = OperationBuilder(shop: shop.domain, event: logged)

        // 1. Who is this? Verified evidence only.
        let (claim, refused) = CustomerClaims.read(verified: verified, context: context, receivedAt: event.receivedAt, shop: shop.domain,
                                                   snippetSecret: shop.snippetSecret)
        if let refused {
            try state.securityEvent(shop: shop.domain, kind: "customer_claim_refused", detail: refused.rawValue, at: event.receivedAt)
            // Debug only: a flood of forged claims must not become a flood of log lines (they are counted).
            logger.debug("customer claim refused", metadata: ["shop": .string(shop.domain), "reason": .string(refused.rawValue)])
        }
        let name = StorefrontEventName(rawValue: event.name)
        if name == .checkoutStarted || name == .checkoutCompleted {
            // Before identification: a cart that went to checkout is not replayed.
            try markCheckedOut(properties, context: context, visitor: visitor, shop: shop, state: state)
        }
        if let claim {
            try identify(&visitor, claim: claim, at: event.time, shop: shop, state: state, ops: &ops)
        }

        // 2. The event itself, under the external id, the visitor alias (forward), or held (hold).
        let target = try BrazeTarget.of(visitor, shop: shop, state: state)
        let mapper = EcommerceMapper(naming: shop.braze.events, source: Self.source(context: context, shop: shop.domain), shopDomain: shop.domain)
        switch name {
        case .productViewed:
            guard let mapped = mapper.productViewed(properties) else { break }
            let key = ((properties["variant_id"] ?? properties["product_id"])?.idString) ?? ""
            let previous = try state.swapProductView(shop: shop.domain, visitorId: visitorId, productKey: key, time: event.time)
            if let previous, event.time - previous < productViewDedupeMillis, event.time >= previous { break }
            if let target { ops.event(target, name: mapped.name, time: event.time, properties: mapped.properties) }
        case .cartUpdated:
            try cartUpdated(properties, visitor: visitor, target: target, mapper: mapper, shop: shop, state: state, ops: &ops)
        case .checkoutStarted, .checkoutCompleted:
            try checkout(properties, context: context, visitor: visitor, target: target, mapper: mapper, shop: shop, state: state, ops: &ops)
        case .pageViewed, .collectionViewed, .searchSubmitted:
            if shop.braze.browsingEvents, let target {
                ops.event(target, name: "shoptrail_" + event.name, time: event.time, properties: properties)
            }
        default:
            break
        }
        if shop.abandonment.anyEnabled, let name {
            try trackAbandonment(name, at: event.time, properties: properties, context: context, visitor: visitor, mapper: mapper, shop: shop, state: state)
        }
        if ops.targetedAlias { visitor.hasAliasProfile = true }
        try state.save(visitor)
        try state.enqueue(ops.operations)
    }

    /// Arms and cancels the abandonment timers this storefront event concerns.
    private func trackAbandonment(_ name: StorefrontEventName, at time: EpochMillis, properties: JSONObject, context: JSONObject?, visitor: Visitor,
                                  mapper: EcommerceMapper, shop: ShopConfig, state: any ProcessorState) throws {
        switch name {
        case .productViewed:
            // Normalised as `ecommerce.product_viewed` whatever the shop's naming: that is what the browse event carries.
            let normal = EcommerceMapper(naming: .ecommerce, source: mapper.source, shopDomain: shop.domain)
            guard let product = normal.productViewed(properties)?.properties else { return }
            try abandonment.productViewed(product, visitor: visitor, at: time, shop: shop, state: state)
        case .cartUpdated:
            guard let token = CartSnapshot.token(properties["cart_token"]) else { return }
            let checkedOut = try state.cart(shop: shop.domain, token: token)?.checkedOut ?? false
            try abandonment.cartChanged(properties, token: token, checkedOut: checkedOut, visitor: visitor, at: time, shop: shop, state: state)
        case .checkoutStarted, .checkoutCompleted:
            let checkout = properties["checkout"]?.objectValue ?? properties
            let cartToken = Self.cartToken(properties, context: context)
            guard let checkoutToken = (checkout["token"] ?? properties["checkout_token"])?.stringValue else {
                if name == .checkoutCompleted {
                    try abandonment.ordered(visitorIds: [visitor.id], customerId: visitor.customerId, cartToken: cartToken, checkoutToken: nil,
                                            at: time, shop: shop, state: state)
                }
                return
            }
            if name == .checkoutCompleted {
                try abandonment.ordered(visitorIds: [visitor.id], customerId: visitor.customerId, cartToken: cartToken, checkoutToken: checkoutToken,
                                        at: time, shop: shop, state: state)
            } else {
                try abandonment.checkoutActive(properties, checkoutToken: checkoutToken, cartToken: cartToken, visitorId: visitor.id,
                                               customerId: visitor.customerId, at: time, shop: shop, state: state)
            }
        default:
            break
        }
    }

    /// A checkout or order (Shopify's REST payload, HMAC-verified on receipt) whose cart or checkout
    /// token a visitor was seen with identifies that visitor, if it is not linked to someone else.
    /// Returns the ordering key for the delivery's operations: the visitor's when one was seen with the
    /// cart (so they follow its identification), else the customer's, else the resource's.
    private func linkThroughCartToken(_ logged: LoggedEvent, shop: ShopConfig, state: any ProcessorState) throws -> String {
        guard let payload = (try? JSONParser.parse(Array(logged.event.properties.utf8)))?.objectValue else { return "w:" + logged.event.name }
        let fallbackKey = (payload["customer"]?.objectValue?["id"] ?? payload["customer_id"])?.idString.map { "c:" + $0 }
            ?? "w:\(logged.event.name):\(payload["id"]?.idString ?? payload["order_id"]?.idString ?? "")"
        guard let customer = payload["customer"]?.objectValue, let customerId = customer["id"]?.idString,
              (try state.uninstalledAt(shop: shop.domain)) == nil else { return fallbackKey }
        let cartToken = CartSnapshot.token(payload["cart_token"])
        let checkoutToken = (payload["checkout_token"] ?? (logged.event.name.hasPrefix("checkouts/") ? payload["token"] : nil))?.stringValue
        var cart = try cartToken.flatMap { try state.cart(shop: shop.domain, token: $0) }
        if cart == nil, let checkoutToken { cart = try state.cart(shop: shop.domain, checkoutToken: checkoutToken) }
        guard let visitorId = cart?.visitorId, var visitor = try state.visitor(shop: shop.domain, id: visitorId) else { return fallbackKey }
        guard visitor.customerId == nil || visitor.customerId == customerId else {
            logger.notice("order of another customer on a linked visitor's cart: not re-linked",
                          metadata: ["shop": .string(shop.domain), "visitor": .string(visitorId)])
            return fallbackKey
        }
        var claim = CustomerClaim(customerId: customerId, evidence: .cartToken)
        claim.email = (customer["email"] ?? payload["email"])?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        claim.firstName = customer["first_name"]?.stringValue
        claim.lastName = customer["last_name"]?.stringValue
        claim.phone = customer["phone"]?.stringValue
        var ops = OperationBuilder(shop: shop.domain, event: logged, userKey: "v:" + visitorId)
        try identify(&visitor, claim: claim, at: logged.event.time, shop: shop, state: state, ops: &ops)
        try state.save(visitor)
        try state.enqueue(ops.operations)
        return ops.userKey
    }

    /// Links the visitor to the claimed customer (or confirms the link) and queues what identification sends.
    private func identify(_ visitor: inout Visitor, claim: CustomerClaim, at time: EpochMillis, shop: ShopConfig,
                          state: any ProcessorState, ops: inout OperationBuilder) throws {
        var customer = try state.customer(shop: shop.domain, id: claim.customerId) ?? Customer(shop: shop.domain, id: claim.customerId)
        // The email may come from a signed claim (it derives the external id); names and phone only
        // from a verified webhook. Browser data never writes a Braze attribute (docs/operations.md, Security).
        if let email = claim.email { customer.email = email }
        let writesAttributes = claim.evidence.isShopifyVerifiedPayload
        if writesAttributes {
            if let v = claim.firstName { customer.firstName = v }
            if let v = claim.lastName { customer.lastName = v }
            if let v = claim.phone { customer.phone = v }
        }

        let previous = visitor.customerId
        if previous != claim.customerId {
            if let previous {
                // Another customer on this device: what the visitor did so far stays with `previous` or
                // is dropped, never handed to the new customer (docs/identity.md, shared devices).
                try abandonment.customerChanged(visitorId: visitor.id, from: previous, at: time, shop: shop, state: state)
                try state.detachBehaviour(shop: shop.domain, visitorId: visitor.id)
            }
            visitor.customerId = claim.customerId
            visitor.linkedAt = time
            visitor.evidence = claim.evidence
            try state.recordLink(shop: shop.domain, visitorId: visitor.id, customerId: claim.customerId, evidence: claim.evidence, at: time)
        } else if let evidence = visitor.evidence, claim.evidence < evidence {
            visitor.evidence = claim.evidence
        }
        guard let externalId = ExternalId.of(customer, strategy: shop.braze.externalId) else {
            try state.save(customer)
            return
        }
        let target = BrazeTarget.externalId(externalId)

        // Merge the visitor's alias profile into the customer once, before anything is sent under the
        // external id. It exists when forward mode sent something under the alias, or may exist when the
        // Braze Web SDK is on: its anonymous user carries the same alias in both modes (docs/web-sdk.md).
        // A visitor re-linked to another customer keeps its alias where it went.
        let aliasProfile = (shop.braze.anonymous == .forward && visitor.hasAliasProfile) || shop.braze.webSDK != nil
        if aliasProfile, visitor.aliasIdentifiedAs == nil, previous == nil {
            ops.identify(visitor: visitor.id, externalId: externalId)
            visitor.aliasIdentifiedAs = externalId
        }
        // Standard attributes from a verified webhook, only when they changed.
        if writesAttributes {
            let changed = customer.changedAttributes(customer.standardAttributes)
            if !changed.isEmpty { ops.attributes(target, JSONObject(changed)) }
        }
        try state.save(customer)

        guard previous != claim.customerId else { return }
        // Forward mode: the carts this visitor used get Braze's cart-token alias, so webhooks find the user.
        if shop.braze.anonymous == .forward {
            for var cart in try state.carts(shop: shop.domain, visitorId: visitor.id) where cart.aliasedTo != externalId && !cart.checkedOut {
                ops.cartAlias(token: cart.token, externalId: externalId)
                cart.aliasedTo = externalId
                try state.save(cart)
            }
        }
        // Hold mode: what matters for messaging is replayed under the external id with its original times.
        if shop.braze.anonymous == .hold, previous == nil {
            try replayHeld(visitor: visitor, target: target, shop: shop, state: state, ops: &ops)
        }
        if shop.braze.events == .ecommerce, claim.evidence == .appProxy || claim.evidence == .signedCustomer {
            ops.event(target, name: "shopify_account_login", time: time, properties: JSONObject([("source", .string("https://\(shop.domain)"))]))
        }
    }

    /// Recent distinct product views and the current cart of a visitor who was anonymous until now.
    private func replayHeld(visitor: Visitor, target: BrazeTarget, shop: ShopConfig, state: any ProcessorState, ops: inout OperationBuilder) throws {
        let since = ops.event.event.time - EpochMillis(shop.braze.holdDays) * 86_400_000
        let held = try state.events(shop: shop.domain, visitorId: visitor.id,
                                    names: [StorefrontEventName.productViewed.rawValue, StorefrontEventName.cartUpdated.rawValue],
                                    since: since, before: ops.event.position)
        var seen = Set<String>()
        var views: [(LoggedEvent, name: String, properties: JSONObject)] = []
        var lastCart: (LoggedEvent, JSONObject)?
        for logged in held.reversed() {
            let properties = (try? JSONParser.parse(Array(logged.event.properties.utf8)))?.objectValue ?? JSONObject()
            if logged.event.name == StorefrontEventName.cartUpdated.rawValue {
                if lastCart == nil { lastCart = (logged, properties) }
                continue
            }
            let key = (properties["variant_id"] ?? properties["product_id"])?.idString ?? ""
            guard views.count < replayProductViews, seen.insert(key).inserted,
                  let mapped = Self.mapper(for: logged.event, shop: shop).productViewed(properties) else { continue }
            views.append((logged, mapped.name, mapped.properties))
        }
        for (logged, name, properties) in views.reversed() {
            ops.event(target, name: name, time: logged.event.time, properties: properties, idSuffix: "replay:\(logged.event.eventId)")
        }
        if let (logged, properties) = lastCart {
            let mapper = Self.mapper(for: logged.event, shop: shop)
            var replay = OperationBuilder(shop: shop.domain, event: logged)
            try cartUpdated(properties, visitor: visitor, target: target, mapper: mapper, shop: shop, state: state, ops: &replay, replay: true)
            ops.append(replay.operations.map { var op = $0; op.id = "replay:" + op.id; return op })
        }
    }

    /// Braze's cart rules: no empty carts, nothing older than what was sent, nothing after checkout, no repeats.
    private func cartUpdated(_ p: JSONObject, visitor: Visitor, target: BrazeTarget?, mapper: EcommerceMapper, shop: ShopConfig,
                             state: any ProcessorState, ops: inout OperationBuilder, replay: Bool = false) throws {
        guard let token = p["cart_token"]?.stringValue, !token.isEmpty else { return }
        var cart = try state.cart(shop: shop.domain, token: token) ?? CartSnapshot(shop: shop.domain, token: token)
        if !replay { cart.visitorId = visitor.id }
        defer { try? state.save(cart) }
        let time = ops.event.event.time
        guard !cart.checkedOut, let target, let mapped = mapper.cartUpdated(p) else { return }
        if let sent = cart.sentTime, time <= sent { return }
        if mapped.signature == cart.sentSignature { return }
        if shop.braze.anonymous == .forward, case .externalId(let externalId) = target, cart.aliasedTo != externalId {
            ops.cartAlias(token: token, externalId: externalId)
            cart.aliasedTo = externalId
        }
        ops.event(target, name: mapped.name, time: time, properties: mapped.properties)
        cart.sentTime = time
        cart.sentSignature = mapped.signature
    }

    /// The cart behind a checkout: Braze refuses `cart_updated` for it from now on.
    private func markCheckedOut(_ p: JSONObject, context: JSONObject?, visitor: Visitor, shop: ShopConfig, state: any ProcessorState) throws {
        let checkout = p["checkout"]?.objectValue ?? p
        guard let cartToken = Self.cartToken(p, context: context) else { return }
        var cart = try state.cart(shop: shop.domain, token: cartToken) ?? CartSnapshot(shop: shop.domain, token: cartToken)
        cart.checkedOut = true
        if cart.visitorId == nil { cart.visitorId = visitor.id }
        if let token = (checkout["token"] ?? p["checkout_token"])?.stringValue { cart.checkoutToken = token }
        try state.save(cart)
    }

    static func cartToken(_ p: JSONObject, context: JSONObject?) -> String? {
        let checkout = p["checkout"]?.objectValue ?? p
        return CartSnapshot.token(checkout["cart_token"] ?? p["cart_token"] ?? context?["cart_token"])
    }

    /// `ecommerce.checkout_started` from the pixel, once per checkout.
    private func checkout(_ p: JSONObject, context: JSONObject?, visitor: Visitor, target: BrazeTarget?, mapper: EcommerceMapper,
                          shop: ShopConfig, state: any ProcessorState, ops: inout OperationBuilder) throws {
        let checkout = p["checkout"]?.objectValue ?? p
        let cartToken = Self.cartToken(p, context: context)
        let checkoutToken = (checkout["token"] ?? p["checkout_token"])?.stringValue
        guard ops.event.event.name == StorefrontEventName.checkoutStarted.rawValue, shop.braze.events == .ecommerce, let target,
              let checkoutToken, let currency = (checkout["currency_code"] ?? checkout["currency"] ?? p["currency"])?.stringValue else { return }
        var products: [JSONValue] = []
        for line in EcommerceMapper.checkoutLines(checkout, fallback: p) {
            guard let productId = line["product_id"]?.idString, let variantId = line["variant_id"]?.idString else { continue }
            products.append(.object(JSONObject([
                ("product_id", .string(productId)), ("product_name", .string(line["product_name"]?.stringValue ?? productId)),
                ("variant_id", .string(variantId)), ("quantity", line["quantity"] ?? .number("1")),
                ("price", OrderMapper.money(line["price"])),
            ])))
        }
        guard !products.isEmpty, try state.markOnce(shop: shop.domain, key: "checkout_started:\(checkoutToken)") else { return }
        let total = EcommerceMapper.checkoutTotal(p) ?? 0
        var properties: [(String, JSONValue)] = [
            ("checkout_id", .string(checkoutToken)), ("total_value", OrderMapper.decimal(total)), ("currency", .string(currency)),
            ("products", .array(products)), ("source", .string(mapper.source)),
        ]
        if let cartToken { properties.append(("cart_id", .string(cartToken))) }
        if let url = (p["checkout_url"] ?? checkout["checkout_url"])?.stringValue {
            properties.append(("metadata", .object(JSONObject([("checkout_url", .string(url))]))))
        }
        ops.event(target, name: "ecommerce.checkout_started", time: ops.event.event.time, properties: JSONObject(properties.map { (key: $0.0, value: $0.1) }))
    }

    /// The mapper for an event replayed from the log (its own page context gives `source`).
    static func mapper(for event: NewEvent, shop: ShopConfig) -> EcommerceMapper {
        let context = event.context.flatMap { try? JSONParser.parse(Array($0.utf8)) }?.objectValue
        return EcommerceMapper(naming: shop.braze.events, source: source(context: context, shop: shop.domain), shopDomain: shop.domain)
    }

    /// Braze's `source`: the storefront's origin from the page URL, else the shop's domain.
    static func source(context: JSONObject?, shop: String) -> String {
        if let url = context?["page"]?.objectValue?["url"]?.stringValue, let components = URLComponents(string: url),
           let scheme = components.scheme, let host = components.host {
            return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
        }
        return "https://\(shop)"
    }
}
