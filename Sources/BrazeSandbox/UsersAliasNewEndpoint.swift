import Foundation

/// POST /users/alias/new: adds an alias to an existing external id, or creates an alias-only profile.
struct UsersAliasNewEndpoint: Sendable {
    let validator: Validator

    func handle(_ body: JSONValue, store: inout ProfileStore, now: Date) -> SandboxResponse {
        guard let items = body["user_aliases"]?.arrayValue else { return .fatal(400, "'user_aliases' must be an array") }
        if items.isEmpty { return .fatal(400, "'user_aliases' must not be empty") }
        if items.count > validator.limits.maxIdentifiersPerRequest {
            return .fatal(400, "The max number of external_ids and aliases per request was exceeded")
        }
        var errors: [MinorError] = []
        var processed = 0
        for (index, item) in items.enumerated() {
            do throws(ValidationFailure) {
                guard item.objectValue != nil else { throw ValidationFailure("entry must be an object") }
                let alias = try validator.alias(item)
                var externalId: String?
                if let value = item["external_id"], value != .null {
                    guard let id = value.stringValue, !id.isEmpty else { throw ValidationFailure("'external_id' must be a non-empty string") }
                    externalId = id
                }
                let owner = store.index(of: .alias(alias))
                if let externalId {
                    // Braze answers before processing; an unknown external id is simply not updated.
                    guard let target = store.index(of: .externalId(externalId)) else { processed += 1; continue }
                    if owner == target { processed += 1; continue }
                    if owner != nil { throw ValidationFailure("alias '\(alias.label)'/'\(alias.name)' already belongs to another user") }
                    if store[target].aliases.contains(where: { $0.label == alias.label }) {
                        throw ValidationFailure("user '\(externalId)' already has an alias with label '\(alias.label)'")
                    }
                    store.update(target, now: now) { $0.aliases.append(alias) }
                } else if owner == nil {
                    _ = store.create(for: .alias(alias), now: now)
                }
                processed += 1
            } catch { errors.append(MinorError(type: error.message, inputArray: "user_aliases", index: index)) }
        }
        var answer: [String: JSONValue] = ["message": "success", "aliases_processed": .from(processed)]
        if !errors.isEmpty { answer["errors"] = .array(errors.map(\.json)) }
        return SandboxResponse(status: 201, body: .object(answer))
    }
}
