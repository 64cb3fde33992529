import Foundation

/// POST /users/identify: folds alias-only (or email/phone-only) profiles into the identified external-id profile.
/// Since 2023-08-07 Braze always merges: fields the identified profile lacks, events and purchases come across,
/// and the alias moves with them. Skipped when the identified profile already has an alias with the same label.
struct UsersIdentifyEndpoint: Sendable {
    let validator: Validator

    func handle(_ body: JSONValue, store: inout ProfileStore, now: Date) -> SandboxResponse {
        guard let request = body.objectValue else { return .fatal(400, "request body must be a JSON object") }
        var lists: [String: [JSONValue]] = [:]
        for key in ["aliases_to_identify", "emails_to_identify", "phone_numbers_to_identify"] {
            guard let value = request[key], value != .null else { continue }
            guard let items = value.arrayValue else { return .fatal(400, "'\(key)' must be an array") }
            lists[key] = items
        }
        let total = lists.values.reduce(0) { $0 + $1.count }
        if total == 0 {
            return .fatal(400, "'aliases_to_identify', 'emails_to_identify' or 'phone_numbers_to_identify' must be a non-empty array")
        }
        if total > validator.limits.maxIdentifiersPerRequest {
            return .fatal(400, "The max number of external_ids and aliases per request was exceeded")
        }
        if let behavior = request["merge_behavior"], behavior != .null, behavior != "none", behavior != "merge" {
            return .fatal(400, "'merge_behavior' must be 'none' or 'merge'")
        }

        var errors: [MinorError] = []
        var answer: [String: JSONValue] = ["message": "success"]
        if let items = lists["aliases_to_identify"] {
            var processed = 0
            for (index, item) in items.enumerated() {
                do throws(ValidationFailure) {
                    guard let object = item.objectValue else { throw ValidationFailure("entry must be an object") }
                    let externalId = try self.externalId(object)
                    let alias = try validator.alias(object["user_alias"])
                    identify(source: store.index(of: .alias(alias)), externalId: externalId, store: &store, now: now)
                    processed += 1
                } catch { errors.append(MinorError(type: error.message, inputArray: "aliases_to_identify", index: index)) }
            }
            answer["aliases_processed"] = .from(processed)
        }
        for (key, field, answerKey) in [("emails_to_identify", "email", "emails_processed"), ("phone_numbers_to_identify", "phone", "phone_numbers_processed")] {
            guard let items = lists[key] else { continue }
            var processed = 0
            for (index, item) in items.enumerated() {
                do throws(ValidationFailure) {
                    guard let object = item.objectValue else { throw ValidationFailure("entry must be an object") }
                    let externalId = try self.externalId(object)
                    guard let value = object[field]?.stringValue, !value.isEmpty else { throw ValidationFailure("'\(field)' must be a non-empty string") }
                    let prioritization = object["prioritization"]?.arrayValue?.compactMap(\.stringValue) ?? []
                    let source = unidentified(field: field, value: value, prioritization: prioritization, store: store)
                    identify(source: source, externalId: externalId, store: &store, now: now)
                    processed += 1
                } catch { errors.append(MinorError(type: error.message, inputArray: key, index: index)) }
            }
            answer[answerKey] = .from(processed)
        }
        if !errors.isEmpty { answer["errors"] = .array(errors.map(\.json)) }
        return SandboxResponse(status: 201, body: .object(answer))
    }

    private func externalId(_ object: [String: JSONValue]) throws(ValidationFailure) -> String {
        guard let id = object["external_id"]?.stringValue, !id.isEmpty else {
            throw ValidationFailure("'external_id' must be a non-empty string")
        }
        return id
    }

    /// Unidentified profiles holding that email/phone, picked by `prioritization` (default most recently updated).
    private func unidentified(field: String, value: String, prioritization: [String], store: ProfileStore) -> Int? {
        let matches = store.profiles.indices.filter { index in
            let profile = store[index]
            guard profile.externalId == nil else { return false }
            if field == "email" { return profile.email?.lowercased() == value.lowercased() }
            return profile.phone.map(ProfileStore.normalizedPhone) == ProfileStore.normalizedPhone(value)
        }
        if prioritization.contains("least_recently_updated") {
            return matches.min { store[$0].updatedAt < store[$1].updatedAt }
        }
        return matches.max { store[$0].updatedAt < store[$1].updatedAt }
    }

    private func identify(source: Int?, externalId: String, store: inout ProfileStore, now: Date) {
        // Unknown alias: nothing to identify (Braze processes identify asynchronously and reports nothing).
        guard let source else { return }
        let sourceProfile = store[source]
        // Only unidentified profiles can be identified.
        guard sourceProfile.externalId == nil else { return }
        guard let target = store.index(of: .externalId(externalId)) else {
            store.update(source, now: now) { $0.externalId = externalId }
            return
        }
        let targetLabels = Set(store[target].aliases.map(\.label))
        if sourceProfile.aliases.contains(where: { targetLabels.contains($0.label) && !store[target].aliases.contains($0) }) {
            return
        }
        store.fold(source, into: target, carryAliases: true, now: now)
    }
}
