import Foundation

/// POST /users/delete: by `external_ids`, `user_aliases` or `braze_ids` (up to 50 in all).
/// Answers `deleted` = profiles actually removed (Braze reports the ids it queued; here deletion is immediate).
struct UsersDeleteEndpoint: Sendable {
    let validator: Validator

    func handle(_ body: JSONValue, store: inout ProfileStore) -> SandboxResponse {
        guard let request = body.objectValue else { return .fatal(400, "request body must be a JSON object") }
        var identifiers: [UserIdentifier] = []
        var given = false
        for key in ["external_ids", "braze_ids"] {
            guard let value = request[key], value != .null else { continue }
            given = true
            let ids = value.arrayValue?.compactMap(\.stringValue) ?? []
            guard let items = value.arrayValue, ids.count == items.count else {
                return .fatal(400, "'\(key)' must be an array of strings")
            }
            identifiers += ids.map { key == "external_ids" ? .externalId($0) : .brazeId($0) }
        }
        if let value = request["user_aliases"], value != .null {
            given = true
            guard let items = value.arrayValue else { return .fatal(400, "'user_aliases' must be an array of user alias objects") }
            for item in items {
                guard let alias = try? validator.alias(item) else {
                    return .fatal(400, "'user_aliases' must be an array of user alias objects")
                }
                identifiers.append(.alias(alias))
            }
        }
        if !given || identifiers.isEmpty { return .fatal(400, "'external_ids', 'user_aliases' or 'braze_ids' must be provided") }
        if identifiers.count > validator.limits.maxIdentifiersPerRequest {
            return .fatal(400, "The max number of ids per request was exceeded")
        }
        var deleted = 0
        for identifier in identifiers {
            if let index = store.index(of: identifier) {
                store.remove(at: index)
                deleted += 1
            }
        }
        return SandboxResponse(status: 201, body: ["deleted": .from(deleted), "message": "success"])
    }
}
