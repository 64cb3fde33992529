import Foundation

/// POST /users/track: attributes, then events, then purchases (Braze's processing order).
struct UsersTrackEndpoint: Sendable {
    let validator: Validator

    static let noData = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields."

    func handle(_ body: JSONValue, store: inout ProfileStore, dataPoints: inout DataPointCounter, now: Date) -> SandboxResponse {
        guard let request = body.objectValue else { return .fatal(400, Self.noData) }
        var arrays: [String: [JSONValue]] = [:]
        for key in ["attributes", "events", "purchases"] {
            guard let value = request[key], value != .null else { continue }
            guard let items = value.arrayValue else {
                return .fatal(400, "'\(key)' must be an array", errors: [["type": .string("'\(key)' must be an array"), "input_array": .string(key)]])
            }
            arrays[key] = items
        }
        if arrays.values.allSatisfy(\.isEmpty) { return .fatal(400, Self.noData) }

        // "Max Input Length Exceeded" (errors.md) refuses the whole request. Current limit: 75 objects in total across the
        // three arrays (50 on "Monthly Active Users CY 24-25" accounts, post_user_track.md); legacy accounts: 75 per array.
        let limits = validator.limits
        var tooMany: [JSONValue] = []
        for (key, limit) in [("attributes", limits.maxAttributes), ("events", limits.maxEvents), ("purchases", limits.maxPurchases)] {
            let count = arrays[key]?.count ?? 0
            if count > limit {
                tooMany.append(["type": .string("too many \(key) objects: \(count), the maximum is \(limit)"), "input_array": .string(key)])
            }
        }
        if let combined = limits.combinedTrackCap {
            let total = arrays.values.reduce(0) { $0 + $1.count }
            if total > combined {
                tooMany.append(["type": .string("too many objects: \(total) attributes, events and purchases in total, the maximum is \(combined)")])
            }
        }
        if !tooMany.isEmpty { return .fatal(400, "Max Input Length Exceeded", errors: tooMany) }

        var errors: [MinorError] = []
        var answer: [String: JSONValue] = ["message": "success"]
        // Braze's processing order: attributes, then events, then purchases.
        typealias Apply = (Self, JSONValue, inout ProfileStore, inout DataPointCounter, Date) throws(ValidationFailure) -> Void
        let kinds: [(String, Apply)] = [
            ("attributes", { endpoint, item, store, points, now throws(ValidationFailure) in try endpoint.attributes(item, store: &store, dataPoints: &points, now: now) }),
            ("events", { endpoint, item, store, points, now throws(ValidationFailure) in try endpoint.event(item, store: &store, dataPoints: &points, now: now) }),
            ("purchases", { endpoint, item, store, points, now throws(ValidationFailure) in try endpoint.purchase(item, store: &store, dataPoints: &points, now: now) }),
        ]
        for (key, apply) in kinds {
            guard let items = arrays[key] else { continue }
            var processed = 0
            for (index, item) in items.enumerated() {
                do throws(ValidationFailure) {
                    try apply(self, item, &store, &dataPoints, now)
                    processed += 1
                } catch { errors.append(MinorError(type: error.message, inputArray: key, index: index)) }
            }
            answer["\(key)_processed"] = .from(processed)
        }
        let objectCount = arrays.values.reduce(0) { $0 + $1.count }
        if !errors.isEmpty && errors.count == objectCount {
            // Every object invalid: a fatal 400 naming them all (RudderStack's and Segment's recorded Braze answers).
            return .fatal(400, Self.noData, errors: errors.map(\.json))
        }
        if !errors.isEmpty { answer["errors"] = .array(errors.map(\.json)) }
        return SandboxResponse(status: 201, body: .object(answer))
    }

    /// Finds the profile, creating it when Braze would: external id / email / phone unless
    /// `_update_existing_only` is true; alias-only only when `_update_existing_only` is explicitly false.
    static func resolve(_ identifier: UserIdentifier, updateExistingOnly: Bool?, store: inout ProfileStore, now: Date) -> Int? {
        if let index = store.index(of: identifier) { return index }
        switch identifier {
        case .externalId, .email, .phone:
            guard updateExistingOnly != true else { return nil }
        case .alias:
            guard updateExistingOnly == false else { return nil }
        case .brazeId:
            return nil
        }
        return store.create(for: identifier, now: now)
    }

    private func object(_ item: JSONValue) throws(ValidationFailure) -> [String: JSONValue] {
        guard let object = item.objectValue else { throw ValidationFailure("object must be a JSON object, got \(item.typeName)") }
        return object
    }

    private func attributes(_ item: JSONValue, store: inout ProfileStore, dataPoints: inout DataPointCounter, now: Date) throws(ValidationFailure) {
        let update = try AttributeUpdate.parse(try object(item), validator: validator)
        guard let index = Self.resolve(update.identifier, updateExistingOnly: update.updateExistingOnly, store: &store, now: now) else { return }
        store.update(index, now: now) { update.apply(to: &$0) }
        dataPoints.attributes += update.dataPoints
        dataPoints.subscriptionChanges += update.subscriptionChanges
        dataPoints.pushTokenUpdates += update.pushTokenUpdates
    }

    private func event(_ item: JSONValue, store: inout ProfileStore, dataPoints: inout DataPointCounter, now: Date) throws(ValidationFailure) {
        let object = try object(item)
        let identifier = try validator.identifier(in: object)
        let updateOnly = try validator.updateExistingOnly(in: object)
        guard let nameValue = object["name"], nameValue != .null else { throw ValidationFailure("'name' is required") }
        guard let name = nameValue.stringValue, !name.isEmpty else { throw ValidationFailure("'name' must be a non-empty string") }
        guard name.count <= validator.limits.maxStringLength else {
            throw ValidationFailure("'name' is longer than \(validator.limits.maxStringLength) characters")
        }
        let (time, date) = try validator.time(object["time"])
        let properties = try validator.properties(object["properties"], maxPayloadBytes: validator.limits.maxEventPropertyBytes, payloadKind: "event")
        // event_object.md "Reserved keys": `time` and `event_name` "cannot be used as custom event properties".
        for reserved in Validator.reservedEventPropertyNames where properties[reserved] != nil {
            throw ValidationFailure("event property name '\(reserved)' is reserved")
        }
        try EcommerceEvents.validate(name: name, properties: properties)
        if name == "ecommerce.cart_updated" {
            let existing = store.index(of: identifier).map { store[$0] }
            try EcommerceEvents.checkCartUpdate(properties: properties, date: date, profile: existing)
        }
        guard let index = Self.resolve(identifier, updateExistingOnly: updateOnly, store: &store, now: now) else { return }
        store.update(index, now: now) { profile in
            profile.events.append(TrackedEvent(name: name, time: time, date: date, properties: properties))
            EcommerceEvents.recordCart(event: name, properties: properties, date: date, profile: &profile)
        }
        // data_points.md: "Custom events | All custom events": the recommended ecommerce.* events included.
        dataPoints.events += 1
        if name.hasPrefix("ecommerce.") { dataPoints.ecommerceEvents += 1 }
    }

    private func purchase(_ item: JSONValue, store: inout ProfileStore, dataPoints: inout DataPointCounter, now: Date) throws(ValidationFailure) {
        let object = try object(item)
        let identifier = try validator.identifier(in: object)
        let updateOnly = try validator.updateExistingOnly(in: object)
        guard let productId = object["product_id"]?.stringValue, !productId.isEmpty else {
            throw ValidationFailure("'product_id' is required and must be a non-empty string")
        }
        guard productId.count <= validator.limits.maxStringLength else {
            throw ValidationFailure("'product_id' is longer than \(validator.limits.maxStringLength) characters")
        }
        guard let currency = object["currency"]?.stringValue, Validator.isCurrencyCode(currency) else {
            throw ValidationFailure("'currency' is required and must be an ISO-4217 currency code")
        }
        guard let price = object["price"], price.isNumber else { throw ValidationFailure("'price' is required and must be a number") }
        var quantity: Int64 = 1
        if let value = object["quantity"], value != .null {
            // purchase_object.md: an integer, "must be <= 100"; Braze's minor error reads "'quantity' is not valid".
            guard let number = value.intValue, (1...100).contains(number) else {
                throw ValidationFailure("'quantity' is not valid: it must be an integer from 1 to 100")
            }
            quantity = number
        }
        let (time, date) = try validator.time(object["time"])
        let properties = try validator.properties(object["properties"], maxPayloadBytes: validator.limits.maxPurchasePropertyBytes, payloadKind: "purchase")
        guard let index = Self.resolve(identifier, updateExistingOnly: updateOnly, store: &store, now: now) else { return }
        store.update(index, now: now) { profile in
            profile.purchases.append(TrackedPurchase(productId: productId, currency: currency, price: price, quantity: quantity, time: time, date: date, properties: properties))
        }
        dataPoints.purchases += 1
    }
}
