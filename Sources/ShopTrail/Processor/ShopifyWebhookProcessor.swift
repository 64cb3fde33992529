import Foundation
import Logging

/// Turns Shopify webhook deliveries (already HMAC-verified and logged) into Braze operations:
/// orders and refunds as Braze's connector names them, checkouts, customer attributes, consent as
/// subscription-group states, products kept for enrichment and mirrored to the Braze catalog
/// (with inventory levels; `CatalogWebhooks.swift`), and the compliance topics.
///
/// Deliveries come late and in any order: each Braze event goes once per resource (keyed by id, not
/// by delivery), and resource state (customers, products) is applied only when its `updated_at` is
/// not older than what was applied.
struct ShopifyWebhookProcessor {
    var logger: Logger
    /// Where `customers/data_request` exports are written (nil: not written, logged).
    var exportDirectory: String?

    func process(_ logged: LoggedEvent, shop: ShopConfig, state: any ProcessorState, userKey: String) throws {
        let topic = logged.event.name
        guard let body = (try? JSONParser.parse(Array(logged.event.properties.utf8)))?.objectValue else { return }
        // Compliance topics are honoured even after uninstalling.
        switch topic {
        case "customers/data_request": return try dataRequest(body, logged: logged, shop: shop, state: state)
        case "customers/redact": return try redact(body, logged: logged, shop: shop, state: state)
        case "shop/redact":
            try state.redactShop(shop.domain)
            try state.audit(shop: shop.domain, action: "shop/redact", detail: "all shop data deleted", at: logged.event.receivedAt)
            logger.notice("shop data deleted (shop/redact)", metadata: ["shop": .string(shop.domain)])
            return
        case "app/uninstalled":
            try state.setUninstalled(shop: shop.domain, at: logged.event.receivedAt)
            try state.audit(shop: shop.domain, action: "app/uninstalled", detail: "forwarding stopped", at: logged.event.receivedAt)
            logger.notice("app uninstalled: no more Braze operations for this shop", metadata: ["shop": .string(shop.domain)])
            return
        default: break
        }
        if try state.uninstalledAt(shop: shop.domain) != nil { return }

        var ops = OperationBuilder(shop: shop.domain, event: logged, userKey: userKey)
        let mapper = OrderMapper(naming: shop.braze.events, shopDomain: shop.domain)
        let customerTarget = try target(customerOf: body, shop: shop, state: state, ops: &ops)

        switch topic {
        case "orders/create", "orders/updated", "orders/paid", "orders/fulfilled", "orders/partially_fulfilled", "orders/cancelled", "orders/edited":
            guard let orderId = body["id"]?.idString else { break }
            try markCartsCheckedOut(body, shop: shop, state: state)
            guard let target = customerTarget else {
                logger.info("order without a customer Braze can know: not sent", metadata: ["shop": .string(shop.domain), "order": .string(orderId)])
                break
            }
            let time = Timestamp.parse(body["created_at"]?.stringValue ?? "") ?? logged.event.time
            // Whatever delivery of the order comes first places it (an orders/updated may overtake orders/create).
            if try state.markOnce(shop: shop.domain, key: "order_placed:\(orderId)") {
                for (name, properties) in mapper.placed(body) { ops.event(target, name: name, time: time, properties: properties, idSuffix: "order:\(orderId)") }
                if shop.braze.events == .legacy {
                    for (index, purchase) in mapper.purchases(body).enumerated() { ops.purchase(target, purchase, time: time, idSuffix: "order:\(orderId):\(index)") }
                }
            }
            // Refunds that arrived before their order.
            if let parked = try state.resourceBody(shop: shop.domain, kind: "parked_refunds", id: orderId),
               case .array(let refunds)? = try? JSONParser.parse(Array(parked.utf8)) {
                for case .object(let refund) in refunds {
                    try refunded(refund, target: target, mapper: mapper, shop: shop, state: state, ops: &ops, time: logged.event.time)
                }
                try state.saveResource(shop: shop.domain, kind: "parked_refunds", id: orderId, updatedAt: logged.event.time, body: nil, deleted: true)
            }
            let updated = Timestamp.parse(body["updated_at"]?.stringValue ?? "") ?? logged.event.time
            if body["financial_status"]?.stringValue == "paid" || topic == "orders/paid",
               try state.markOnce(shop: shop.domain, key: "order_paid:\(orderId)") {
                ops.event(target, name: "shopify_paid_order", time: updated, properties: mapper.orderStatus(body), idSuffix: "paid:\(orderId)")
            }
            let fulfillment = body["fulfillment_status"]?.stringValue
            if fulfillment == "fulfilled" || topic == "orders/fulfilled", try state.markOnce(shop: shop.domain, key: "order_fulfilled:\(orderId)") {
                ops.event(target, name: "shopify_fulfilled_order", time: updated, properties: mapper.orderStatus(body), idSuffix: "fulfilled:\(orderId)")
            } else if fulfillment == "partial" || topic == "orders/partially_fulfilled",
                      try state.markOnce(shop: shop.domain, key: "order_partial:\(orderId):\(mapper.fulfillmentCount(body))") {
                ops.event(target, name: "shopify_partially_fulfilled_order", time: updated, properties: mapper.orderStatus(body), idSuffix: "partial:\(orderId):\(mapper.fulfillmentCount(body))")
            }
            if body["cancelled_at"]?.stringValue != nil || topic == "orders/cancelled", try state.markOnce(shop: shop.domain, key: "order_cancelled:\(orderId)") {
                let (name, properties) = mapper.cancelled(body)
                ops.event(target, name: name, time: Timestamp.parse(body["cancelled_at"]?.stringValue ?? "") ?? updated, properties: properties, idSuffix: "cancelled:\(orderId)")
            }
        case "refunds/create":
            let orderTarget = try refundTarget(body, shop: shop, state: state)
            guard let target = customerTarget ?? orderTarget else {
                // A refund that overtook its order waits for it.
                if let orderId = body["order_id"]?.idString { try park(refund: logged.event.properties, orderId: orderId, shop: shop, state: state) }
                break
            }
            try refunded(body, target: target, mapper: mapper, shop: shop, state: state, ops: &ops, time: logged.event.time)
        case "checkouts/create", "checkouts/update":
            guard let token = body["token"]?.stringValue else { break }
            if let cartToken = CartSnapshot.token(body["cart_token"]) {
                var cart = try state.cart(shop: shop.domain, token: cartToken) ?? CartSnapshot(shop: shop.domain, token: cartToken)
                cart.checkedOut = true
                cart.checkoutToken = token
                try state.save(cart)
            }
            let cartTarget = try visitorTarget(body, shop: shop, state: state)
            let target = customerTarget ?? cartTarget
            guard shop.braze.events == .ecommerce, let target, body["completed_at"]?.stringValue == nil,
                  let properties = mapper.checkoutStarted(body), try state.markOnce(shop: shop.domain, key: "checkout_started:\(token)") else { break }
            ops.event(target, name: "ecommerce.checkout_started", time: Timestamp.parse(body["created_at"]?.stringValue ?? "") ?? logged.event.time,
                      properties: properties, idSuffix: "checkout:\(token)")
        case "customers/create", "customers/update":
            try customerUpdate(body, shop: shop, state: state, ops: &ops, time: logged.event.time)
        case "customers/delete":
            if let id = body["id"]?.idString {
                try state.saveResource(shop: shop.domain, kind: "customer", id: id, updatedAt: logged.event.time, body: nil, deleted: true)
            }
        case "customers_email_marketing_consent/update", "customers_marketing_consent/update":
            try consent(body, topic: topic, shop: shop, state: state, ops: &ops, time: logged.event.time)
        case "products/create", "products/update", "products/delete":
            try catalog(topic, body, logged: logged, shop: shop, state: state)
            guard let id = body["id"]?.idString else { break }
            let updated = Timestamp.parse(body["updated_at"]?.stringValue ?? "") ?? logged.event.time
            if let applied = try state.resourceVersion(shop: shop.domain, kind: "product", id: id), applied > updated { break }
            try state.saveResource(shop: shop.domain, kind: "product", id: id, updatedAt: updated,
                                   body: topic == "products/delete" ? nil : logged.event.properties, deleted: topic == "products/delete")
        case "inventory_levels/update":
            try catalog(topic, body, logged: logged, shop: shop, state: state)
        default:
            break
        }
        try addCustomerIdAlias(body, topic: topic, shop: shop, state: state, ops: &ops)
        try state.enqueue(ops.operations)
    }

    /// Braze's connector gives every customer who logs in or orders the `shopify_customer_id` alias
    /// (alias name: the customer id). Added once per customer and external id, after something was
    /// sent to the profile in the same batch, so the profile exists when the alias arrives.
    private func addCustomerIdAlias(_ body: JSONObject, topic: String, shop: ShopConfig, state: any ProcessorState, ops: inout OperationBuilder) throws {
        let idValue = topic.hasPrefix("customers/") ? body["id"] : body["customer"]?.objectValue?["id"]
        guard let customerId = idValue?.idString, let customer = try state.customer(shop: shop.domain, id: customerId),
              case .externalId(let externalId)? = BrazeTarget.of(customer, shop: shop), ops.targetedExternalIds.contains(externalId),
              // The external id may be an email: the mark keeps only a digest of it.
              try state.markOnce(shop: shop.domain, key: "customer_alias:\(customerId):\(ExternalId.digest(externalId))") else { return }
        ops.customerIdAlias(customerId: customerId, externalId: externalId, label: shop.braze.customerIdAliasLabel)
    }

    private func refunded(_ refund: JSONObject, target: BrazeTarget, mapper: OrderMapper, shop: ShopConfig, state: any ProcessorState,
                          ops: inout OperationBuilder, time: EpochMillis) throws {
        guard let refundId = refund["id"]?.idString, try state.markOnce(shop: shop.domain, key: "refund:\(refundId)") else { return }
        let (name, properties) = mapper.refunded(refund, order: try order(of: refund, shop: shop, state: state))
        ops.event(target, name: name, time: Timestamp.parse(refund["created_at"]?.stringValue ?? "") ?? time, properties: properties, idSuffix: "refund:\(refundId)")
    }

    private func park(refund text: String, orderId: String, shop: ShopConfig, state: any ProcessorState) throws {
        var parked: [JSONValue] = []
        if let existing = try state.resourceBody(shop: shop.domain, kind: "parked_refunds", id: orderId),
           case .array(let items)? = try? JSONParser.parse(Array(existing.utf8)) { parked = items }
        if let refund = try? JSONParser.parse(Array(text.utf8)) { parked.append(refund) }
        try state.saveResource(shop: shop.domain, kind: "parked_refunds", id: orderId, updatedAt: 0, body: JSONValue.array(parked).serialized, deleted: false)
    }

    /// The Braze user of the payload's customer (orders, checkouts, refunds), creating the customer record.
    private func target(customerOf body: JSONObject, shop: ShopConfig, state: any ProcessorState, ops: inout OperationBuilder) throws -> BrazeTarget? {
        guard let object = body["customer"]?.objectValue, let id = object["id"]?.idString else { return nil }
        var customer = try state.customer(shop: shop.domain, id: id) ?? Customer(shop: shop.domain, id: id)
        if customer.email == nil { customer.email = (object["email"] ?? body["email"] ?? body["contact_email"])?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        if customer.firstName == nil { customer.firstName = object["first_name"]?.stringValue }
        if customer.lastName == nil { customer.lastName = object["last_name"]?.stringValue }
        try state.save(customer)
        return BrazeTarget.of(customer, shop: shop)
    }

    /// The user of the visitor who was seen with the checkout's cart, when the checkout has no customer.
    private func visitorTarget(_ body: JSONObject, shop: ShopConfig, state: any ProcessorState) throws -> BrazeTarget? {
        guard let cartToken = CartSnapshot.token(body["cart_token"]),
              let visitorId = try state.cart(shop: shop.domain, token: cartToken)?.visitorId,
              let visitor = try state.visitor(shop: shop.domain, id: visitorId) else { return nil }
        return try BrazeTarget.of(visitor, shop: shop, state: state)
    }

    /// A refund names only its order: the order's customer, if the order was seen.
    private func refundTarget(_ body: JSONObject, shop: ShopConfig, state: any ProcessorState) throws -> BrazeTarget? {
        guard let order = try order(of: body, shop: shop, state: state), let object = order["customer"]?.objectValue, let id = object["id"]?.idString,
              let customer = try state.customer(shop: shop.domain, id: id) else { return nil }
        return BrazeTarget.of(customer, shop: shop)
    }

    private func order(of refund: JSONObject, shop: ShopConfig, state: any ProcessorState) throws -> JSONObject? {
        guard let orderId = refund["order_id"]?.idString else { return nil }
        return try state.resourceBody(shop: shop.domain, kind: "order", id: orderId).flatMap { try? JSONParser.parse(Array($0.utf8)) }?.objectValue
    }

    private func markCartsCheckedOut(_ body: JSONObject, shop: ShopConfig, state: any ProcessorState) throws {
        if let id = body["id"]?.idString {
            let updated = Timestamp.parse(body["updated_at"]?.stringValue ?? "") ?? 0
            if (try state.resourceVersion(shop: shop.domain, kind: "order", id: id)).map({ $0 <= updated }) ?? true {
                try state.saveResource(shop: shop.domain, kind: "order", id: id, updatedAt: updated, body: JSONValue.object(body).serialized, deleted: false)
            }
        }
        guard let cartToken = CartSnapshot.token(body["cart_token"]) else { return }
        var cart = try state.cart(shop: shop.domain, token: cartToken) ?? CartSnapshot(shop: shop.domain, token: cartToken)
        cart.checkedOut = true
        if let token = body["checkout_token"]?.stringValue { cart.checkoutToken = token }
        try state.save(cart)
    }

    /// Standard attributes and the connector's `shopify_*` ones, only when newer than what was applied and changed.
    private func customerUpdate(_ body: JSONObject, shop: ShopConfig, state: any ProcessorState, ops: inout OperationBuilder, time: EpochMillis) throws {
        guard let id = body["id"]?.idString else { return }
        let updated = Timestamp.parse(body["updated_at"]?.stringValue ?? "") ?? time
        if let applied = try state.resourceVersion(shop: shop.domain, kind: "customer", id: id), applied > updated { return }
        try state.saveResource(shop: shop.domain, kind: "customer", id: id, updatedAt: updated, body: nil, deleted: false)
        var customer = try state.customer(shop: shop.domain, id: id) ?? Customer(shop: shop.domain, id: id)
        func text(_ key: String) -> String? { body[key]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } }
        customer.email = text("email") ?? customer.email
        customer.firstName = text("first_name") ?? customer.firstName
        customer.lastName = text("last_name") ?? customer.lastName
        customer.phone = text("phone") ?? customer.phone
        guard let target = BrazeTarget.of(customer, shop: shop) else { try state.save(customer); return }
        var attributes = customer.standardAttributes
        attributes += ShopifyAddress(rest: body["default_address"]?.objectValue)?.attributes ?? []
        if let tags = body["tags"]?.stringValue { attributes.append(("shopify_tags", .string(String(tags.prefix(2_000))))) }
        if let count = (body["orders_count"] ?? body["number_of_orders"])?.idString { attributes.append(("shopify_order_count", .string(count))) }
        if let spent = (body["total_spent"] ?? body["amount_spent"]?.objectValue?["amount"])?.stringValue { attributes.append(("shopify_total_spent", .string(spent))) }
        let changed = customer.changedAttributes(attributes)
        if !changed.isEmpty { ops.attributes(target, JSONObject(changed)) }
        try state.save(customer)
    }

    /// Shopify's marketing consent as the state of the shop's Braze subscription group (never the global state).
    private func consent(_ body: JSONObject, topic: String, shop: ShopConfig, state: any ProcessorState, ops: inout OperationBuilder, time: EpochMillis) throws {
        let isEmail = topic.hasPrefix("customers_email")
        let consent = body[isEmail ? "email_marketing_consent" : "sms_marketing_consent"]?.objectValue
        guard let id = body["customer_id"]?.idString, let stateName = consent?["state"]?.stringValue else { return }
        guard let group = isEmail ? shop.braze.emailSubscriptionGroupId : shop.braze.smsSubscriptionGroupId else {
            logger.info("marketing consent not forwarded: no Braze subscription group configured",
                        metadata: ["shop": .string(shop.domain), "channel": .string(isEmail ? "email" : "sms")])
            return
        }
        let updated = (consent?["consent_updated_at"]?.stringValue).flatMap(Timestamp.parse) ?? time
        let kind = isEmail ? "email_consent" : "sms_consent"
        if let applied = try state.resourceVersion(shop: shop.domain, kind: kind, id: id), applied > updated { return }
        try state.saveResource(shop: shop.domain, kind: kind, id: id, updatedAt: updated, body: nil, deleted: false)
        var customer = try state.customer(shop: shop.domain, id: id) ?? Customer(shop: shop.domain, id: id)
        if isEmail, customer.email == nil { customer.email = body["email_address"]?.stringValue }
        if !isEmail, customer.phone == nil { customer.phone = body["phone"]?.stringValue }
        try state.save(customer)
        guard let target = BrazeTarget.of(customer, shop: shop) else { return }
        let subscribed = stateName.lowercased() == "subscribed"
        let entry = JSONValue.object(JSONObject([
            ("subscription_group_id", .string(group)), ("subscription_state", .string(subscribed ? "subscribed" : "unsubscribed")),
        ]))
        ops.attributes(target, JSONObject([("subscription_groups", .array([entry]))]))
    }

    private func dataRequest(_ body: JSONObject, logged: LoggedEvent, shop: ShopConfig, state: any ProcessorState) throws {
        let at = logged.event.receivedAt
        guard let customer = body["customer"]?.objectValue, let id = customer["id"]?.idString else { return }
        let requestId = body["data_request"]?.objectValue?["id"]?.idString ?? String(at)
        let orderIds = (body["orders_requested"]?.arrayValue ?? []).compactMap(\.idString)
        let stored = try state.customer(shop: shop.domain, id: id)
        let emails = Self.emails([customer["email"]?.stringValue, stored?.email])
        let export = try state.export(shop: shop.domain, customerId: id, emails: emails, orderIds: orderIds)
        var detail = "export not written: no data directory"
        if let directory = exportDirectory {
            let folder = (directory as NSString).appendingPathComponent("exports")
            let path = (folder as NSString).appendingPathComponent("\(Self.exportPrefix(shop.domain))\(Self.safeName(requestId)).json")
            // Created 0600 under a temporary O_EXCL name and renamed (never readable by another user); a
            // failed export is logged and audited, not retried forever: it must not stop the processor.
            do {
                try PrivateFiles.directory(folder)
                try PrivateFiles.replace(path, contents: Data(export.serialized.utf8))
                detail = "export written to \(path)"
                logger.notice("customer data request exported", metadata: ["shop": .string(shop.domain), "path": .string(path)])
            } catch {
                detail = "export FAILED: could not write \(path)"
                logger.error("customer data request export failed", metadata: ["shop": .string(shop.domain), "path": .string(path), "error": "\(error)"])
            }
        }
        // The delivery keeps ids only: its email and phone are in the export, not in the log.
        try state.scrubDelivery(shop: shop.domain, position: logged.position, properties: Self.idsOnly(body, customerId: id, listKey: "orders_requested").serialized)
        try state.audit(shop: shop.domain, action: "customers/data_request", detail: "request \(requestId): \(detail)", at: at)
    }

    private func redact(_ body: JSONObject, logged: LoggedEvent, shop: ShopConfig, state: any ProcessorState) throws {
        guard let object = body["customer"]?.objectValue, let id = object["id"]?.idString else { return }
        let stored = try state.customer(shop: shop.domain, id: id)
        let customer = stored ?? { var c = Customer(shop: shop.domain, id: id); c.email = object["email"]?.stringValue; return c }()
        let externalId = ExternalId.of(customer, strategy: shop.braze.externalId)
        let emails = Self.emails([object["email"]?.stringValue, stored?.email])
        let phones = Array(Set([object["phone"]?.stringValue, stored?.phone].compactMap { $0 }.filter { !$0.isEmpty })).sorted()
        // Every Braze id the customer may have had (the strategy may have changed since): outbox entries are matched on them.
        var externalIds = [id]
        for email in emails {
            var c = Customer(shop: shop.domain, id: id)
            c.email = email
            externalIds += [ExternalIdStrategy.email, .emailSHA256].compactMap { ExternalId.of(c, strategy: $0) }
        }
        let redaction = CustomerRedaction(customerId: id, emails: emails, phones: phones,
                                          orderIds: (body["orders_to_redact"]?.arrayValue ?? []).compactMap(\.idString),
                                          externalIds: externalIds, before: logged.position)
        var report = try state.redact(shop: shop.domain, redaction)
        report.exportFiles = deleteExports(shop: shop.domain, customerId: id)
        // Queued after the deletion, which removes the customer's unsent operations.
        var ops = OperationBuilder(shop: shop.domain, event: logged, userKey: "c:" + id)
        if let externalId { ops.delete(externalIds: [externalId]) }
        if shop.braze.anonymous == .forward, !report.visitors.isEmpty { ops.delete(visitorAliases: report.visitors) }
        try state.enqueue(ops.operations)
        try state.scrubDelivery(shop: shop.domain, position: logged.position, properties: Self.idsOnly(body, customerId: id, listKey: "orders_to_redact").serialized)
        try state.audit(shop: shop.domain, action: "customers/redact",
                        detail: "\(report.summary); Braze deletion queued: \(externalId != nil)", at: logged.event.receivedAt)
    }

    /// Deletes the earlier `customers/data_request` exports of a customer (and the shop's leftover temporary
    /// export files); returns how many files went. Failures are logged: the redact itself must go on.
    private func deleteExports(shop: String, customerId: String) -> Int {
        guard let directory = exportDirectory else { return 0 }
        let folder = (directory as NSString).appendingPathComponent("exports")
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return 0 }
        var deleted = 0
        let prefix = Self.exportPrefix(shop)
        for name in names where name.hasPrefix(prefix) || name.hasPrefix("." + prefix) {
            let path = (folder as NSString).appendingPathComponent(name)
            let isTemporary = name.hasPrefix(".")
            if !isTemporary {
                guard let data = FileManager.default.contents(atPath: path),
                      let export = (try? JSONParser.parse(Array(data)))?.objectValue, Self.exportCustomer(export) == customerId else { continue }
            }
            do {
                try FileManager.default.removeItem(atPath: path)
                if !isTemporary { deleted += 1 }
            } catch {
                logger.error("could not delete an export of a redacted customer", metadata: ["shop": .string(shop), "path": .string(path), "error": "\(error)"])
            }
        }
        return deleted
    }

    /// The customer an export is about (`customer_id`, or the customer row of exports written before it existed).
    private static func exportCustomer(_ export: JSONObject) -> String? {
        export["customer_id"]?.idString ?? export["customer"]?.arrayValue?.first?.objectValue?["customer_id"]?.idString
    }

    private static func exportPrefix(_ shop: String) -> String { "\(safeName(shop))-data-request-" }

    /// A file-name component: letters, digits, `.`, `-` and `_` only.
    private static func safeName(_ text: String) -> String {
        String(text.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) ? Character($0) : "_" })
    }

    private static func emails(_ values: [String?]) -> [String] {
        Array(Set(values.compactMap { ExternalId.normalizedEmail($0) })).sorted()
    }

    /// A compliance request reduced to its ids, so the log keeps what was asked but no contact details.
    private static func idsOnly(_ body: JSONObject, customerId: String, listKey: String) -> JSONValue {
        var members: [(key: String, value: JSONValue)] = []
        for key in ["shop_id", "shop_domain"] { if let value = body[key] { members.append((key, value)) } }
        members.append(("customer", .object(JSONObject([("id", .string(customerId))]))))
        if let list = body[listKey] { members.append((listKey, .array((list.arrayValue ?? []).compactMap(\.idString).map(JSONValue.string)))) }
        if let request = body["data_request"]?.objectValue?["id"]?.idString {
            members.append(("data_request", .object(JSONObject([("id", .string(request))]))))
        }
        members.append(("scrubbed", .bool(true)))
        return .object(JSONObject(members))
    }
}
