import Foundation

/// POST /users/delete, per `_docs/_api/endpoints/user_data/post_user_delete.md`: up to 50 identifiers of ONE kind per
/// request (`external_ids`, `user_aliases`, `braze_ids`, `email_addresses` or `phone_numbers`); emails and phones come
/// as `{"email"|"phone": ..., "prioritization": [...]}`. Answers `deleted` = "number of user IDs queued for deletion",
/// that is every identifier sent, known or not, duplicates included. The sandbox deletes at once.
struct UsersDeleteEndpoint: Sendable {
    let validator: Validator

    static let kinds = ["external_ids", "user_aliases", "braze_ids", "email_addresses", "phone_numbers"]
    static let prioritizations: Set<String> = ["identified", "unidentified", "most_recently_updated"]

    /// One identifier to delete: a direct one, or an email/phone resolved through `prioritization`.
    enum Target {
        case direct(UserIdentifier)
        case prioritized(UserIdentifier, [String])
    }

    func handle(_ body: JSONValue, store: inout ProfileStore) -> SandboxResponse {
        guard let request = body.objectValue else { return .fatal(400, "request body must be a JSON object") }
        let given = Self.kinds.filter { request[$0] != nil && request[$0] != .null }
        guard let kind = given.first else {
            return .fatal(400, "one of 'external_ids', 'user_aliases', 'braze_ids', 'email_addresses' or 'phone_numbers' must be provided")
        }
        if given.count > 1 {
            return .fatal(400, "only one of 'external_ids', 'user_aliases', 'braze_ids', 'email_addresses' or 'phone_numbers' may be provided, found \(given.map { "'\($0)'" }.joined(separator: " and "))")
        }
        guard let items = request[kind]?.arrayValue, !items.isEmpty else {
            return .fatal(400, "'\(kind)' must be a non-empty array")
        }
        if items.count > validator.limits.maxIdentifiersPerRequest {
            return .fatal(400, "The max number of ids per request was exceeded")
        }
        var targets: [Target] = []
        for item in items {
            switch target(kind: kind, item) {
            case .success(let target): targets.append(target)
            case .failure(let failure): return .fatal(400, failure.message)
            }
        }
        for target in targets {
            switch target {
            case .direct(let identifier):
                if let index = store.index(of: identifier) { store.remove(at: index) }
            case .prioritized(let identifier, let prioritization):
                if let index = store.prioritizedIndex(of: identifier, prioritization: prioritization) { store.remove(at: index) }
            }
        }
        return SandboxResponse(status: 201, body: ["deleted": .from(targets.count), "message": "success"])
    }

    private func target(kind: String, _ item: JSONValue) -> Result<Target, ValidationFailure> {
        switch kind {
        case "external_ids", "braze_ids":
            guard let id = item.stringValue, !id.isEmpty else { return .failure(ValidationFailure("'\(kind)' must be an array of strings")) }
            return .success(.direct(kind == "external_ids" ? .externalId(id) : .brazeId(id)))
        case "user_aliases":
            do throws(ValidationFailure) {
                return .success(.direct(.alias(try validator.alias(item))))
            } catch {
                return .failure(ValidationFailure("'user_aliases' must be an array of user alias objects"))
            }
        default:
            let field = kind == "email_addresses" ? "email" : "phone"
            guard let object = item.objectValue, let value = object[field]?.stringValue, !value.isEmpty else {
                return .failure(ValidationFailure("'\(kind)' entries must be objects with a string '\(field)' and a 'prioritization' array"))
            }
            // "an additional `prioritization` value is required in the identifier".
            guard let order = object["prioritization"]?.arrayValue, !order.isEmpty else {
                return .failure(ValidationFailure("'prioritization' is required when deleting by \(field)"))
            }
            let names = order.compactMap(\.stringValue)
            guard names.count == order.count, names.allSatisfy(Self.prioritizations.contains) else {
                return .failure(ValidationFailure("'prioritization' values must be 'identified', 'unidentified' or 'most_recently_updated'"))
            }
            if names.contains("identified") && names.contains("unidentified") {
                return .failure(ValidationFailure("'prioritization' may contain only one of 'identified' and 'unidentified'"))
            }
            return .success(.prioritized(field == "email" ? .email(value) : .phone(value), names))
        }
    }
}
