import Crypto
import Foundation

/// A customer identity found in an event, after checking where it came from.
public struct CustomerClaim: Sendable, Equatable {
    public var customerId: String
    /// An email the evidence vouches for (signed by the shop's Liquid render, or in an HMAC-verified
    /// webhook): it may derive the Braze `external_id` under the email strategies.
    public var email: String?
    /// Profile attributes, filled only from HMAC-verified webhooks: browser data never writes a
    /// name or a phone to Braze.
    public var firstName: String?
    public var lastName: String?
    public var phone: String?
    public var evidence: LinkEvidence
}

/// Why a customer claim in a beacon was refused (counted as a security event).
public enum RefusedClaim: String, Sendable, Equatable, Error {
    case unsigned
    case badSignature = "bad_signature"
    case expiredSignature = "expired_signature"
    case noSecret = "no_snippet_secret"
}

/// The one place that decides what in a storefront or pixel event counts as identity evidence.
///
/// Only two things a browser sends can identify it, and the browser can forge neither:
/// - the App Proxy identity in the event's `verified` column: written by the server after
///   Shopify's HMAC over the forwarded query verified with the app's API secret;
/// - the Liquid-signed customer in `context.customer` `{id, email, ts, sig}`: hex HMAC-SHA256 of
///   `"{shop}:{id}:{email}:{ts}"` keyed with the shop's snippet secret, rendered by Shopify's
///   servers, bound to the shop so a signature of one shop is void on another.
/// Anything else (an unsigned id, an email typed in a form, the pixel's checkout customer) is not
/// evidence. HMAC-verified order and checkout webhooks link through cart tokens in the processor.
public enum CustomerClaims {
    /// A Liquid signature stays valid this long after the page was rendered (pages left open, beacons retried).
    static let maxSignatureAgeMillis: EpochMillis = 48 * 3_600_000
    /// A signature may be this far in the future (the shop's clock against ours).
    static let maxSignatureLeadMillis: EpochMillis = 300_000

    /// The claim an event carries, or why its customer claim was refused, or neither.
    ///
    /// `verified` is the event's server-written `verified` object; `context` the client's batch context.
    public static func read(verified: JSONObject?, context: JSONObject?, receivedAt: EpochMillis, shop: String,
                            snippetSecret: Secret?) -> (claim: CustomerClaim?, refused: RefusedClaim?) {
        let signed = context?["customer"]?.objectValue.flatMap {
            signedCustomer($0, shop: shop, receivedAt: receivedAt, snippetSecret: snippetSecret)
        }
        if let proxy = verified?[ServerContext.appProxyKey]?.objectValue, let id = proxy["logged_in_customer_id"]?.idString, !id.isEmpty {
            var claim = CustomerClaim(customerId: id, evidence: .appProxy)
            // The page's email only when the snippet signed it for this same customer.
            if case .success(let page)? = signed, page.customerId == id { claim.email = page.email }
            return (claim, nil)
        }
        switch signed {
        case .none: return (nil, nil)
        case .some(.success(let claim)): return (claim, nil)
        case .some(.failure(let refused)): return (nil, refused)
        }
    }

    /// The snippet's signed customer, verified; a context `customer` without an id claims nothing.
    private static func signedCustomer(_ customer: JSONObject, shop: String, receivedAt: EpochMillis,
                                       snippetSecret: Secret?) -> Result<CustomerClaim, RefusedClaim>? {
        guard let id = customer["id"]?.idString, !id.isEmpty else { return nil }
        guard let secret = snippetSecret, !secret.value.isEmpty else { return .failure(.noSecret) }
        guard let sig = customer["sig"]?.stringValue, let ts = customer["ts"]?.idString, let seconds = Int64(ts) else { return .failure(.unsigned) }
        let email = customer["email"]?.stringValue ?? ""
        let expected = signature(shop: shop, customerId: id, email: email, timestamp: ts, secret: secret)
        guard ConstantTime.equal(Array(expected.utf8), Array(sig.lowercased().utf8)) else { return .failure(.badSignature) }
        // Overflow-checked: even a correctly signed timestamp is outside data.
        let (renderedAt, o1) = seconds.multipliedReportingOverflow(by: 1000)
        let (age, o2) = receivedAt.subtractingReportingOverflow(renderedAt)
        guard !o1, !o2, age <= maxSignatureAgeMillis, age >= -maxSignatureLeadMillis else { return .failure(.expiredSignature) }
        var claim = CustomerClaim(customerId: id, evidence: .signedCustomer)
        claim.email = email.isEmpty ? nil : email
        return .success(claim)
    }

    /// The snippet's signature: hex HMAC-SHA256 of `"{shop}:{id}:{email}:{ts}"` keyed with the snippet
    /// secret (what Liquid's `hmac_sha256` filter computes in the generated snippet).
    public static func signature(shop: String, customerId: String, email: String, timestamp: String, secret: Secret) -> String {
        let message = "\(shop):\(customerId):\(email):\(timestamp)"
        let mac = HMAC<SHA256>.authenticationCode(for: Array(message.utf8), using: SymmetricKey(data: Array(secret.value.utf8)))
        return mac.map { String(format: "%02x", $0) }.joined()
    }
}
