import Crypto
import Foundation

/// A customer identity found in an event, after checking where it came from.
public struct CustomerClaim: Sendable, Equatable {
    public var customerId: String
    public var email: String?
    public var firstName: String?
    public var lastName: String?
    public var phone: String?
    public var evidence: LinkEvidence
}

/// Why a customer claim in a beacon was refused (logged as a security event).
public enum RefusedClaim: String, Sendable, Equatable {
    case unsigned
    case badSignature = "bad_signature"
    case expiredSignature = "expired_signature"
    case noSecret = "no_snippet_secret"
}

/// Reads and verifies the identities the server can trust in a stored event.
public enum CustomerClaims {
    /// A Liquid signature stays valid this long after the page was rendered (pages left open, beacons retried).
    static let maxSignatureAgeMillis: EpochMillis = 48 * 3_600_000

    /// The claim an event carries, or why its customer claim was refused, or neither.
    ///
    /// `context` is the batch context: `$app_proxy` (written by the server after verifying Shopify's
    /// signature; clients cannot send `$` keys) or `customer` `{id, email, ts, sig}` signed by the
    /// snippet: hex HMAC-SHA256 of `"{id}:{email}:{ts}"` keyed with the shop's snippet secret.
    public static func read(context: JSONObject?, properties: JSONObject?, eventName: String, source: EventSource,
                            receivedAt: EpochMillis, snippetSecret: Secret?) -> (claim: CustomerClaim?, refused: RefusedClaim?) {
        let customer = context?["customer"]?.objectValue
        if let proxy = context?[ServerContext.appProxyKey]?.objectValue, let id = proxy["logged_in_customer_id"]?.idString, !id.isEmpty {
            var claim = CustomerClaim(customerId: id, evidence: .appProxy)
            // Names and email from the page only when the page speaks of the same customer.
            if let customer, customer["id"]?.idString == id { fillAttributes(&claim, from: customer) }
            return (claim, nil)
        }
        if let customer, let id = customer["id"]?.idString, !id.isEmpty {
            guard let secret = snippetSecret, !secret.value.isEmpty else { return (nil, .noSecret) }
            guard let sig = customer["sig"]?.stringValue, let ts = customer["ts"]?.idString, let seconds = Int64(ts) else { return (nil, .unsigned) }
            let expected = signature(customerId: id, email: customer["email"]?.stringValue ?? "", timestamp: ts, secret: secret)
            guard ConstantTime.equal(Array(expected.utf8), Array(sig.lowercased().utf8)) else { return (nil, .badSignature) }
            let age = receivedAt - seconds * 1000
            guard age <= maxSignatureAgeMillis, age >= -300_000 else { return (nil, .expiredSignature) }
            var claim = CustomerClaim(customerId: id, evidence: .signedCustomer)
            fillAttributes(&claim, from: customer)
            return (claim, nil)
        }
        // The pixel runs in Shopify's checkout sandbox: its customer is Shopify's, weakest evidence.
        if source == .pixel, eventName == StorefrontEventName.checkoutCompleted.rawValue,
           let customer = properties?["customer"]?.objectValue, let id = customer["id"]?.idString, !id.isEmpty {
            var claim = CustomerClaim(customerId: id, evidence: .pixelCheckout)
            fillAttributes(&claim, from: customer)
            return (claim, nil)
        }
        return (nil, nil)
    }

    /// The snippet's signature: hex HMAC-SHA256 of `"{id}:{email}:{ts}"` keyed with the snippet secret
    /// (what Liquid's `hmac_sha256` filter computes in the generated snippet).
    public static func signature(customerId: String, email: String, timestamp: String, secret: Secret) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(customerId):\(email):\(timestamp)".utf8), using: SymmetricKey(data: Array(secret.value.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }

    private static func fillAttributes(_ claim: inout CustomerClaim, from customer: JSONObject) {
        claim.email = customer["email"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        claim.firstName = (customer["first_name"] ?? customer["firstName"])?.stringValue
        claim.lastName = (customer["last_name"] ?? customer["lastName"])?.stringValue
        claim.phone = customer["phone"]?.stringValue
    }
}

extension JSONValue {
    /// A Shopify id as a string, whether sent as a string or a number (numbers keep every digit here).
    var idString: String? {
        switch self {
        case .string(let s): s
        case .number(let n) where !n.contains(".") && !n.contains("e") && !n.contains("E"): n
        default: nil
        }
    }

    /// A number (or a numeric string) as a Double.
    var doubleValue: Double? {
        switch self {
        case .number(let n): Double(n)
        case .string(let s): Double(s)
        default: nil
        }
    }
}
