import Foundation

/// POST /users/export/ids: profiles in Braze's export shape, filtered by `fields_to_export`.
struct UsersExportEndpoint: Sendable {
    let validator: Validator

    func handle(_ body: JSONValue, store: ProfileStore) -> SandboxResponse {
        guard let request = body.objectValue else { return .fatal(400, "request body must be a JSON object") }
        var lookups: [(UserIdentifier, JSONValue)] = []
        if let value = request["external_ids"], value != .null {
            guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                return .fatal(400, "'external_ids' must be an array of strings")
            }
            lookups += items.compactMap { item in item.stringValue.map { (.externalId($0), item) } }
        }
        if let value = request["user_aliases"], value != .null {
            guard let items = value.arrayValue else { return .fatal(400, "'user_aliases' must be an array of user alias objects") }
            for item in items {
                guard let alias = try? validator.alias(item) else { return .fatal(400, "'user_aliases' must be an array of user alias objects") }
                lookups.append((.alias(alias), item))
            }
        }
        for (key, make) in [("braze_id", UserIdentifier.brazeId), ("email_address", UserIdentifier.email), ("phone", UserIdentifier.phone)] {
            guard let value = request[key], value != .null else { continue }
            guard let text = value.stringValue else { return .fatal(400, "'\(key)' must be a string") }
            lookups.append((make(text), value))
        }
        if lookups.isEmpty {
            return .fatal(400, "one of 'external_ids', 'user_aliases', 'braze_id', 'email_address' or 'phone' is required")
        }
        if lookups.count > validator.limits.maxIdentifiersPerRequest {
            return .fatal(400, "The max number of ids per request was exceeded")
        }
        var fields: Set<String>?
        if let value = request["fields_to_export"], value != .null {
            guard let items = value.arrayValue, items.allSatisfy({ $0.stringValue != nil }) else {
                return .fatal(400, "'fields_to_export' must be an array of strings")
            }
            fields = Set(items.compactMap(\.stringValue))
        }
        var users: [JSONValue] = []
        var seen = Set<String>()
        var invalid: [JSONValue] = []
        for (identifier, raw) in lookups {
            var matches: [Int] = []
            if case .email(let email) = identifier {
                matches = store.profiles.indices.filter { store[$0].email?.lowercased() == email.lowercased() }
            } else if let index = store.index(of: identifier) {
                matches = [index]
            }
            if matches.isEmpty, case .externalId = identifier { invalid.append(raw) }
            for index in matches where seen.insert(store[index].brazeId).inserted {
                users.append(Self.export(store[index], fields: fields))
            }
        }
        var answer: [String: JSONValue] = ["users": .array(users), "message": "success"]
        if !invalid.isEmpty { answer["invalid_user_ids"] = .array(invalid) }
        return SandboxResponse(status: 201, body: .object(answer))
    }

    static let standardKeys: Set<String> = ["email", "first_name", "last_name", "phone", "home_city", "country", "dob", "gender", "language", "time_zone", "bio"]

    static func export(_ profile: Profile, fields: Set<String>?) -> JSONValue {
        var user: [String: JSONValue] = [
            "external_id": .from(profile.externalId),
            "braze_id": .string(profile.brazeId),
            "user_aliases": .array(profile.aliases.map(\.json)),
            "created_at": .string(ISO8601Time.format(profile.createdAt)),
            "email_subscribe": .from(profile.emailSubscribe),
            "push_subscribe": .from(profile.pushSubscribe),
        ]
        for key in standardKeys { if let value = profile.attributes[key] { user[key] = value } }
        user["custom_attributes"] = .object(profile.attributes.filter { !standardKeys.contains($0.key) })
        user["custom_events"] = .array(summaries(profile.events.map { ($0.name, $0.date) }))
        user["purchases"] = .array(summaries(profile.purchases.map { ($0.productId, $0.date) }))
        user["subscription_groups"] = .array(profile.subscriptionGroups.keys.sorted().map { id in
            ["id": .string(id), "status": .string(profile.subscriptionGroups[id] == "subscribed" ? "Subscribed" : "Unsubscribed")]
        })
        if let fields { user = user.filter { fields.contains($0.key) } }
        return .object(user)
    }

    /// Braze summarises events and purchases per name: first, last, count.
    static func summaries(_ items: [(String, Date)]) -> [JSONValue] {
        var order: [String] = []
        var byName: [String: (first: Date, last: Date, count: Int)] = [:]
        for (name, date) in items {
            if let current = byName[name] {
                byName[name] = (min(current.first, date), max(current.last, date), current.count + 1)
            } else {
                order.append(name)
                byName[name] = (date, date, 1)
            }
        }
        return order.compactMap { name in
            byName[name].map {
                ["name": .string(name), "first": .string(ISO8601Time.format($0.first)), "last": .string(ISO8601Time.format($0.last)), "count": .from($0.count)]
            }
        }
    }
}
