import Foundation

/// One change an attributes object asks for, already validated.
enum AttributeOperation: Sendable {
    case set(String, JSONValue)  // .null unsets
    case arrayAdd(String, [JSONValue])
    case arrayRemove(String, [JSONValue])
    case increment(String, Double)
    case emailSubscribe(String)
    case pushSubscribe(String)
    case subscriptionGroups([(id: String, state: String)])
}

/// A validated attributes object from /users/track: who, in which mode, what changes, what it costs.
struct AttributeUpdate: Sendable {
    var identifier: UserIdentifier
    var updateExistingOnly: Bool?
    var operations: [AttributeOperation]
    /// Braze data points this object consumes when written (`_docs/_user_guide/data/data_points.md`).
    var dataPoints: Int
    /// Subscription states it sets (not billed).
    var subscriptionChanges = 0
    /// Push token writes (not billed: "data collected by default … including push tokens").
    var pushTokenUpdates = 0

    /// Keys that identify or steer the object rather than set data.
    static let controlKeys: Set<String> = ["external_id", "user_alias", "braze_id", "_update_existing_only", "app_id", "_merge_objects"]
    static let subscribeStates: Set<String> = ["opted_in", "subscribed", "unsubscribed"]
    static let plainStandardStrings: Set<String> = ["first_name", "last_name", "home_city", "language", "time_zone", "gender", "bio"]

    static func parse(_ object: [String: JSONValue], validator: Validator) throws(ValidationFailure) -> AttributeUpdate {
        let identifier = try validator.identifier(in: object)
        let updateOnly = try validator.updateExistingOnly(in: object)
        var operations: [AttributeOperation] = []
        var points = 0
        var subscriptionChanges = 0
        var pushTokenUpdates = 0
        if let merge = object["_merge_objects"], merge != .null, merge.boolValue == nil {
            throw ValidationFailure("'_merge_objects' must be a boolean")
        }
        let maxLength = validator.limits.maxStringLength
        for key in object.keys.sorted() where !controlKeys.contains(key) {
            guard let value = object[key] else { continue }
            // The identifying email/phone is who the object is about, not an update.
            if case .email = identifier, key == "email" { continue }
            if case .phone = identifier, key == "phone" { continue }
            switch key {
            case "email":
                guard value == .null || value.stringValue.map(Validator.isValidEmail) == true else {
                    throw ValidationFailure("'email' is not a valid email address")
                }
                operations.append(.set(key, value))
                points += 1
            case "phone":
                guard value == .null || value.stringValue.map(Validator.isValidPhone) == true else {
                    throw ValidationFailure("'phone' is not a valid phone number")
                }
                operations.append(.set(key, value))
                points += 1
            case "country":
                // Best effort (user_attributes_object.md): alpha-2 codes, alpha-3 codes and English names map to the
                // alpha-2 code; anything else is stored as NULL, never an error. Sent by API, so billed.
                operations.append(.set(key, value.stringValue.flatMap(CountryCodes.map).map(JSONValue.string) ?? .null))
                points += 1
            case "dob":
                guard value == .null || value.stringValue.map(isDateOfBirth) == true else {
                    throw ValidationFailure("'dob' must be a date in YYYY-MM-DD format")
                }
                operations.append(.set(key, value))
                points += 1
            case _ where plainStandardStrings.contains(key):
                guard value == .null || value.stringValue.map({ $0.count <= maxLength }) == true else {
                    throw ValidationFailure("'\(key)' must be a string of at most \(maxLength) characters")
                }
                operations.append(.set(key, value))
                points += 1
            case "email_subscribe", "push_subscribe":
                guard let state = value.stringValue, subscribeStates.contains(state) else {
                    throw ValidationFailure("'\(key)' must be one of 'opted_in', 'subscribed', 'unsubscribed'")
                }
                operations.append(key == "email_subscribe" ? .emailSubscribe(state) : .pushSubscribe(state))
                subscriptionChanges += 1
            case "subscription_groups":
                let groups = try subscriptionGroups(value)
                operations.append(.subscriptionGroups(groups))
                subscriptionChanges += groups.count
            case "push_tokens":
                guard let tokens = value.arrayValue, tokens.allSatisfy({ $0["token"]?.stringValue?.isEmpty == false }) else {
                    throw ValidationFailure("'push_tokens' must be an array of objects with a string 'token'")
                }
                operations.append(.set(key, value))
                pushTokenUpdates += tokens.count
            default:
                let (changes, cost) = try custom(key: key, value: value, maxLength: maxLength)
                operations.append(contentsOf: changes)
                points += cost
            }
        }
        return AttributeUpdate(identifier: identifier, updateExistingOnly: updateOnly, operations: operations, dataPoints: points,
                               subscriptionChanges: subscriptionChanges, pushTokenUpdates: pushTokenUpdates)
    }

    static func subscriptionGroups(_ value: JSONValue) throws(ValidationFailure) -> [(id: String, state: String)] {
        guard let items = value.arrayValue else { throw ValidationFailure("'subscription_groups' must be an array") }
        var groups: [(id: String, state: String)] = []
        for item in items {
            guard let id = item["subscription_group_id"]?.stringValue, !id.isEmpty else {
                throw ValidationFailure("'subscription_groups' entries need a string 'subscription_group_id'")
            }
            guard let state = item["subscription_state"]?.stringValue, state == "subscribed" || state == "unsubscribed" else {
                throw ValidationFailure("'subscription_state' must be 'subscribed' or 'unsubscribed'")
            }
            groups.append((id, state))
        }
        return groups
    }

    static func custom(key: String, value: JSONValue, maxLength: Int) throws(ValidationFailure) -> ([AttributeOperation], Int) {
        if key.isEmpty { throw ValidationFailure("custom attribute names must be non-empty") }
        if key.count > maxLength { throw ValidationFailure("custom attribute name is longer than \(maxLength) characters") }
        if key.hasPrefix("$") { throw ValidationFailure("custom attribute '\(key)' must not start with '$'") }
        switch value {
        case .string(let text):
            guard text.count <= maxLength else {
                throw ValidationFailure("custom attribute '\(key)' is longer than \(maxLength) characters")
            }
            return ([.set(key, value)], 1)
        case .null, .bool, .int, .double:
            return ([.set(key, value)], 1)
        case .array(let items):
            try checkArrayItems(key: key, items, maxLength: maxLength)
            // Setting a whole array costs one data point.
            return ([.set(key, value)], 1)
        case .object(let object):
            let keys = Set(object.keys)
            if keys == ["inc"] {
                guard let amount = object["inc"]?.doubleValue else {
                    throw ValidationFailure("custom attribute '\(key)' 'inc' must be a number")
                }
                return ([.increment(key, amount)], 1)
            }
            if !keys.isEmpty, keys.isSubset(of: ["add", "remove"]) {
                // Incremental array changes cost one data point per value.
                if let add = object["add"] {
                    guard let items = add.arrayValue else { throw ValidationFailure("custom attribute '\(key)' 'add' must be an array") }
                    try checkArrayItems(key: key, items, maxLength: maxLength)
                    if let remove = object["remove"] {
                        guard let removed = remove.arrayValue else { throw ValidationFailure("custom attribute '\(key)' 'remove' must be an array") }
                        // Both in one object: the remove is applied after the add.
                        return ([.arrayAdd(key, items), .arrayRemove(key, removed)], items.count + removed.count)
                    }
                    return ([.arrayAdd(key, items)], items.count)
                }
                guard let removed = object["remove"]?.arrayValue else { throw ValidationFailure("custom attribute '\(key)' 'remove' must be an array") }
                return ([.arrayRemove(key, removed)], removed.count)
            }
            // Nested custom attribute: every key counts as a data point.
            return ([.set(key, value)], max(1, countKeys(value)))
        }
    }

    static func checkArrayItems(key: String, _ items: [JSONValue], maxLength: Int) throws(ValidationFailure) {
        for item in items {
            if case .string(let text) = item, text.count > maxLength {
                throw ValidationFailure("custom attribute '\(key)' has an array value longer than \(maxLength) characters")
            }
            if case .null = item { throw ValidationFailure("custom attribute '\(key)' arrays must not contain null") }
        }
    }

    static func countKeys(_ value: JSONValue) -> Int {
        switch value {
        case .object(let object): object.reduce(0) { $0 + 1 + countKeys($1.value) - (isContainer($1.value) ? 1 : 0) }
        case .array(let items): items.reduce(0) { $0 + countKeys($1) }
        default: 0
        }
    }

    static func isContainer(_ value: JSONValue) -> Bool {
        value.objectValue != nil || value.arrayValue != nil
    }

    static func isDateOfBirth(_ text: String) -> Bool {
        text.count == 10 && ISO8601Time.parse(text) != nil
    }

    /// Applies the operations to a profile.
    func apply(to profile: inout Profile) {
        for operation in operations {
            switch operation {
            case .set(let key, .null): profile.attributes[key] = nil
            case .set(let key, let value): profile.attributes[key] = value
            case .arrayAdd(let key, let items):
                var current = profile.attributes[key]?.arrayValue ?? []
                for item in items where !current.contains(item) { current.append(item) }
                profile.attributes[key] = .array(current)
            case .arrayRemove(let key, let items):
                let current = profile.attributes[key]?.arrayValue ?? []
                profile.attributes[key] = .array(current.filter { !items.contains($0) })
            case .increment(let key, let amount):
                let current = profile.attributes[key] ?? .int(0)
                if case .int(let base) = current, amount.rounded() == amount {
                    profile.attributes[key] = .int(base + Int64(amount))
                } else {
                    profile.attributes[key] = .double((current.doubleValue ?? 0) + amount)
                }
            case .emailSubscribe(let state): profile.emailSubscribe = state
            case .pushSubscribe(let state): profile.pushSubscribe = state
            case .subscriptionGroups(let groups):
                for group in groups { profile.subscriptionGroups[group.id] = group.state }
            }
        }
    }
}

