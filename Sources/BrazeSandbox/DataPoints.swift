/// Braze data points written, by kind. Per Braze's data-points doc: each custom event and purchase is one;
/// each attribute set is one (standard ones such as email, names, phone, city, country included); arrays set
/// whole cost one, `add`/`remove` cost one per value; nested objects one per key. Free: identifiers
/// (external_id, user_alias, braze_id), `email_subscribe`, `push_subscribe`, `subscription_groups` and
/// /subscription/status/set, deletions, identify/merge/alias changes. Event properties are not counted
/// (Braze bills them only when enabled for segmentation). Objects dropped by `_update_existing_only` write nothing.
struct DataPointCounter: Sendable {
    var attributes = 0
    var events = 0
    var purchases = 0

    var total: Int { attributes + events + purchases }

    var json: JSONValue {
        ["total": .from(total), "attributes": .from(attributes), "events": .from(events), "purchases": .from(purchases)]
    }
}
