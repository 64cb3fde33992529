/// Keys of a beacon's `context` that only the server writes.
///
/// A top-level context key starting with `$` is reserved: `/v1/batch` refuses a beacon that sends
/// one (400 `reserved_field`), so a value found there in the event log was put there by the server
/// after verifying it. The App Proxy route records Shopify's verified identity as
/// `"$app_proxy": {"shop": …, "logged_in_customer_id": "…" | null, "timestamp": …}`.
public enum ServerContext {
    public static let appProxyKey = "$app_proxy"

    /// The first reserved top-level key in a context object's JSON text, if any.
    static func reservedKey(inContext text: String) -> String? {
        // Cheap pre-check: nearly every beacon has no `"$` at all, so the hot path never re-parses.
        guard text.utf8.count >= 3, text.contains("\"$") else { return nil }
        guard case .object(let object)? = try? JSONParser.parse(Array(text.utf8), maxDepth: 64, rawKeys: []) else { return nil }
        return object.keys.first { $0.hasPrefix("$") }
    }

    /// The context text with `"$app_proxy": {...}` added first (the text is a JSON object or nil).
    static func adding(_ identity: AppProxyIdentity, to context: String?) -> String {
        let customer: JSONValue = identity.loggedInCustomerId.map { .string($0) } ?? .null
        let value = JSONValue.object(JSONObject([
            ("shop", .string(identity.shop)), ("logged_in_customer_id", customer), ("timestamp", .number(String(identity.timestamp))),
        ])).serialized
        let member = JSONValue.string(appProxyKey).serialized + ":" + value
        guard let context else { return "{" + member + "}" }
        var rest = Substring(context).drop { $0.isWhitespace }
        guard rest.first == "{" else { return "{" + member + "}" }
        rest = rest.dropFirst().drop { $0.isWhitespace }
        return rest.first == "}" ? "{" + member + "}" : "{" + member + "," + rest
    }
}
