import Foundation

/// POST /users/merge: folds `identifier_to_merge` into `identifier_to_keep` and removes the former.
/// Braze does this asynchronously (202); the sandbox does it before answering so tests can inspect the result.
/// Per Braze's field list, attributes the kept profile lacks, events and purchases are merged; aliases are not.
struct UsersMergeEndpoint: Sendable {
    let validator: Validator

    static let badIdentifier = "identifiers must be objects with an 'external_id' property that is a string, or 'user_alias' property that is an object"

    func handle(_ body: JSONValue, store: inout ProfileStore, now: Date) -> SandboxResponse {
        guard let items = body["merge_updates"]?.arrayValue, items.allSatisfy({ $0.objectValue != nil }), !items.isEmpty else {
            return .fatal(400, "'merge_updates' must be an array of objects")
        }
        if items.count > validator.limits.maxIdentifiersPerRequest {
            return .fatal(400, "a single request may not contain more than \(validator.limits.maxIdentifiersPerRequest) merge updates")
        }
        var pairs: [(UserIdentifier, UserIdentifier)] = []
        for item in items {
            guard let object = item.objectValue, Set(object.keys) == ["identifier_to_merge", "identifier_to_keep"] else {
                return .fatal(400, "'merge_updates' must only have 'identifier_to_merge' and 'identifier_to_keep'")
            }
            guard let merge = identifier(object["identifier_to_merge"]), let keep = identifier(object["identifier_to_keep"]) else {
                return .fatal(400, Self.badIdentifier)
            }
            pairs.append((merge, keep))
        }
        for (merge, keep) in pairs {
            guard let source = store.index(of: merge), let target = store.index(of: keep), source != target else { continue }
            store.fold(source, into: target, carryAliases: false, now: now)
        }
        return SandboxResponse(status: 202, body: ["message": "success"])
    }

    /// external_id, user_alias, email or phone: exactly one.
    private func identifier(_ value: JSONValue?) -> UserIdentifier? {
        guard let object = value?.objectValue else { return nil }
        let keys = Set(object.keys).subtracting(["prioritization"])
        guard keys.count == 1, let key = keys.first, let field = object[key] else { return nil }
        switch key {
        case "external_id": return field.stringValue.flatMap { $0.isEmpty ? nil : .externalId($0) }
        case "user_alias": return (try? validator.alias(field)).map(UserIdentifier.alias)
        case "email": return field.stringValue.flatMap { $0.isEmpty ? nil : .email($0) }
        case "phone": return field.stringValue.flatMap { $0.isEmpty ? nil : .phone($0) }
        default: return nil
        }
    }
}
