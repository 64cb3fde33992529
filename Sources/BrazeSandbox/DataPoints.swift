/// Braze data points written, by kind, as braze-docs `_docs/_user_guide/data/data_points.md` bills them.
///
/// Billable ("Adding, removing, or updating the following data types will incur a billable data point"): every custom
/// event ("All custom events", so the recommended `ecommerce.*` events too), every purchase ("All purchases"), and every
/// attribute set on a profile: first/last name, email, gender, country and language when sent (the page bills them
/// "when manually collected", and an API call is manual collection), city, time zone, date of birth, bio, phone and
/// every custom attribute. Arrays set whole cost one; values added or removed incrementally cost one each; a nested
/// custom attribute costs one per key; setting a custom attribute (object) to null costs one.
///
/// Not billed: subscription state changes (`email_subscribe`, `push_subscribe`, `subscription_groups`,
/// /subscription/status/set), user IDs and user aliases, deleting users, push tokens ("data collected by default …
/// including push tokens"), automatically collected country and language (the sandbox has no SDK, so never sees them).
/// Custom event and purchase properties are billed only when enabled for segmentation, which the sandbox never is.
/// Objects dropped by `_update_existing_only` and invalid objects write nothing and cost nothing.
struct DataPointCounter: Sendable {
    static let source = "_docs/_user_guide/data/data_points.md"

    var attributes = 0
    var events = 0
    /// Of `events`, the recommended `ecommerce.*` ones (billed like any custom event).
    var ecommerceEvents = 0
    var purchases = 0

    /// Writes Braze does not bill, counted so tests can see them happen for free.
    var subscriptionChanges = 0
    var aliasesAdded = 0
    var usersDeleted = 0
    var pushTokenUpdates = 0

    var total: Int { attributes + events + purchases }

    var json: JSONValue {
        [
            "total": .from(total), "attributes": .from(attributes), "events": .from(events),
            "ecommerce_events": .from(ecommerceEvents), "purchases": .from(purchases),
            "not_billed": [
                "subscription_changes": .from(subscriptionChanges), "aliases_added": .from(aliasesAdded),
                "users_deleted": .from(usersDeleted), "push_token_updates": .from(pushTokenUpdates),
            ],
            "source": .string(Self.source),
        ]
    }
}
