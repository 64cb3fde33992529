import Foundation

/// POST /subscription/status/set (v1: one group, ids in `external_id` / `email` / `phone`) and
/// POST /v2/subscription/status/set (`subscription_groups` array with `external_ids` / `emails` / `phones`).
/// Unknown external ids are skipped; an unknown email or phone gets an email-/phone-only profile, as Braze does.
/// v1 refuses `email` together with `phone` (400, the message quoted by
/// `_docs/_api/endpoints/subscription_groups/post_update_user_subscription_group_status.md`). State changes cost no data points.
struct SubscriptionStatusEndpoint: Sendable {
    let validator: Validator

    struct Change {
        var group: String
        var state: String
        var targets: [UserIdentifier]
    }

    static let emailAndPhone = "Either an email address or a phone number should be provided, but not both."

    func handleV1(_ body: JSONValue, store: inout ProfileStore, dataPoints: inout DataPointCounter, now: Date) -> SandboxResponse {
        guard let request = body.objectValue else { return .fatal(400, "request body must be a JSON object") }
        if let email = request["email"], email != .null, let phone = request["phone"], phone != .null {
            return SandboxResponse(status: 400, body: ["message": .string(Self.emailAndPhone)])
        }
        switch change(request, idKeys: ("external_id", "email", "phone")) {
        case .failure(let failure): return .fatal(400, failure.message)
        case .success(let change):
            dataPoints.subscriptionChanges += apply([change], store: &store, now: now)
            return SandboxResponse(status: 201, body: ["message": "success"])
        }
    }

    func handleV2(_ body: JSONValue, store: inout ProfileStore, dataPoints: inout DataPointCounter, now: Date) -> SandboxResponse {
        guard let groups = body["subscription_groups"]?.arrayValue, !groups.isEmpty else {
            return .fatal(400, "'subscription_groups' must be a non-empty array")
        }
        var changes: [Change] = []
        for group in groups {
            guard let object = group.objectValue else { return .fatal(400, "'subscription_groups' entries must be objects") }
            switch change(object, idKeys: ("external_ids", "emails", "phones")) {
            case .failure(let failure): return .fatal(400, failure.message)
            case .success(let change): changes.append(change)
            }
        }
        dataPoints.subscriptionChanges += apply(changes, store: &store, now: now)
        return SandboxResponse(status: 201, body: ["message": "success"])
    }

    private func change(_ object: [String: JSONValue], idKeys: (String, String, String)) -> Result<Change, ValidationFailure> {
        guard let group = object["subscription_group_id"]?.stringValue, !group.isEmpty else {
            return .failure(ValidationFailure("'subscription_group_id' is required"))
        }
        guard let state = object["subscription_state"]?.stringValue, state == "subscribed" || state == "unsubscribed" else {
            return .failure(ValidationFailure("'subscription_state' must be 'subscribed' or 'unsubscribed'"))
        }
        var targets: [UserIdentifier] = []
        for (key, make) in [(idKeys.0, UserIdentifier.externalId), (idKeys.1, UserIdentifier.email), (idKeys.2, UserIdentifier.phone)] {
            guard let value = object[key], value != .null else { continue }
            // v1 accepts a single string or an array of strings.
            let items = value.arrayValue ?? [value]
            guard items.allSatisfy({ $0.stringValue?.isEmpty == false }) else {
                return .failure(ValidationFailure("'\(key)' must be a string or an array of strings"))
            }
            targets += items.compactMap(\.stringValue).map(make)
        }
        if targets.isEmpty { return .failure(ValidationFailure("'\(idKeys.0)', '\(idKeys.1)' or '\(idKeys.2)' is required")) }
        if targets.count > validator.limits.maxIdentifiersPerRequest {
            return .failure(ValidationFailure("The max number of ids per request was exceeded"))
        }
        return .success(Change(group: group, state: state, targets: targets))
    }

    /// Applies the changes; returns how many profile states were set.
    private func apply(_ changes: [Change], store: inout ProfileStore, now: Date) -> Int {
        var count = 0
        for change in changes {
            for target in change.targets {
                let index: Int?
                switch target {
                case .externalId: index = store.index(of: target)
                default: index = store.index(of: target) ?? store.create(for: target, now: now)
                }
                guard let index else { continue }
                store.update(index, now: now) { $0.subscriptionGroups[change.group] = change.state }
                count += 1
            }
        }
        return count
    }
}
