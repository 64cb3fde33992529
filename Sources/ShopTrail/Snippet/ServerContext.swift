/// What the server verified about a beacon, kept apart from anything the client wrote.
///
/// Verified facts live in the event log's own `verified` column, which no request body can reach:
/// the client's `context` is stored in another column, so no key spelling, escape or duplicate in
/// it can pose as a server fact. The App Proxy route writes
/// `{"app_proxy": {"shop": …, "logged_in_customer_id": "…" | null, "timestamp": …}}`.
/// Top-level `context` keys starting with `$` stay reserved (refused after decoding) so the
/// documented contract does not change.
public enum ServerContext {
    /// The member of the `verified` column holding Shopify's App Proxy identity.
    public static let appProxyKey = "app_proxy"

    /// The first reserved top-level key of a context object's JSON text, judged on decoded names.
    static func reservedKey(inContext text: String) -> String? {
        // Without a `$` or an escape no decoded name can start with `$`: the hot path never re-parses.
        guard text.containsUTF8Byte(UInt8(ascii: "$")) || text.containsUTF8Byte(UInt8(ascii: "\\")) else { return nil }
        guard case .object(let object)? = try? JSONParser.parse(Array(text.utf8), maxDepth: 64, rawKeys: []) else { return nil }
        return object.keys.first { $0.hasPrefix("$") }
    }

    /// The `verified` column's text for a request whose App Proxy signature verified.
    static func verified(_ identity: AppProxyIdentity) -> String {
        let customer: JSONValue = identity.loggedInCustomerId.map { .string($0) } ?? .null
        return JSONValue.object(JSONObject([
            (appProxyKey, .object(JSONObject([
                ("shop", .string(identity.shop)), ("logged_in_customer_id", customer), ("timestamp", .number(String(identity.timestamp))),
            ]))),
        ])).serialized
    }
}
