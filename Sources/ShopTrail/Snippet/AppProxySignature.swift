import Crypto
import Foundation

/// What a verified App Proxy request tells us: the shop and the logged-in customer, if any.
public struct AppProxyIdentity: Sendable, Equatable {
    public let shop: String
    /// Shopify's `logged_in_customer_id`; nil when the visitor is not logged in (Shopify sends it blank).
    public let loggedInCustomerId: String?
    /// Shopify's `timestamp` (Unix seconds) of the forwarded request.
    public let timestamp: Int64
}

/// Verifies the `signature` Shopify adds to requests it forwards through an App Proxy.
///
/// Shopify's rule (shared/reference/shopify.md §7): remove `signature`, sort the parameters by
/// name, join each as `name=value` (values of a repeated name joined with `,`, not URL-encoded),
/// concatenate with no separator, and compare `hex(HMAC-SHA256(api_secret, message))` in
/// constant time. `shop`, `signature` and `timestamp` must be present, and no parameter that carries
/// identity or routing (`shop`, `signature`, `timestamp`, `logged_in_customer_id`, `path_prefix`)
/// may appear twice: Shopify signs a repeated name as its values joined with `,`, so
/// `logged_in_customer_id=999&logged_in_customer_id=555` would verify while naming two customers.
/// Other repeated names (the storefront's own query, as in Shopify's `extra=1&extra=2` example) are
/// signed and harmless. The timestamp must be fresh, so a captured URL cannot be replayed for long.
public enum AppProxySignature {
    /// How far Shopify's timestamp may be from our clock, either way.
    public static let maxSkewSeconds: Int64 = 300
    /// Parameters that carry identity or routing: each at most once.
    static let singleParameters = ["shop", "signature", "timestamp", "logged_in_customer_id", "path_prefix"]
    static let requiredParameters: Set<String> = ["shop", "signature", "timestamp"]

    public static func verify(query: String?, secrets: [Secret], now: Int64) throws(APIError) -> AppProxyIdentity {
        let params = parse(query ?? "")
        for name in singleParameters {
            let count = params.filter { $0.name == name }.count
            guard count <= 1 else {
                throw APIError(.unauthorized, "invalid_signature", "the App Proxy parameter '\(name)' appears \(count) times", field: name)
            }
            guard count == 1 || !requiredParameters.contains(name) else {
                throw APIError(.unauthorized, "invalid_signature", "the App Proxy parameter '\(name)' is missing", field: name)
            }
        }
        // The three lookups below cannot fail after the count check; `?? ""` keeps the path free of force unwraps.
        let signature = params.first { $0.name == "signature" }?.value ?? ""
        let shop = params.first { $0.name == "shop" }?.value ?? ""
        let timestampText = params.first { $0.name == "timestamp" }?.value ?? ""
        let message = signedMessage(params)
        let valid = secrets.contains { secret in
            let mac = HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: Array(secret.value.utf8)))
            return ConstantTime.equal(Array(hex(mac).utf8), Array(signature.lowercased().utf8))
        }
        guard valid else { throw APIError(.unauthorized, "invalid_signature", "the App Proxy signature does not match", field: "signature") }
        guard let timestamp = Int64(timestampText) else {
            throw APIError(.unauthorized, "invalid_signature", "the App Proxy timestamp is not a number", field: "timestamp")
        }
        // Overflow-checked: a signed `timestamp=-9223372036854775808` must be refused, not trap.
        let (skew, overflow) = now.subtractingReportingOverflow(timestamp)
        guard !overflow, skew.magnitude <= UInt64(maxSkewSeconds) else {
            throw APIError(.unauthorized, "signature_expired", "the App Proxy timestamp is more than \(maxSkewSeconds) s from the server's clock", field: "timestamp")
        }
        let customer = params.first { $0.name == "logged_in_customer_id" }?.value
        return AppProxyIdentity(shop: shop, loggedInCustomerId: (customer?.isEmpty ?? true) ? nil : customer, timestamp: timestamp)
    }

    /// The string Shopify signs.
    static func signedMessage(_ params: [(name: String, value: String)]) -> String {
        var grouped: [String: [String]] = [:]
        for p in params where p.name != "signature" { grouped[p.name, default: []].append(p.value) }
        // Byte order, as JavaScript's default sort does for the ASCII names Shopify uses.
        return grouped.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
            .map { "\($0)=\(grouped[$0, default: []].joined(separator: ","))" }
            .joined()
    }

    /// `a=1&b=2` into decoded pairs, in order; `+` is a space, as in form encoding.
    static func parse(_ query: String) -> [(name: String, value: String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { item in
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ s: Substring) -> String {
                let spaced = s.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// Shopify's signature for `params` (used by tests and the test storefront's proxy).
    public static func sign(_ params: [(name: String, value: String)], secret: Secret) -> String {
        hex(HMAC<SHA256>.authenticationCode(for: Array(signedMessage(params).utf8), using: SymmetricKey(data: Array(secret.value.utf8))))
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }
}
