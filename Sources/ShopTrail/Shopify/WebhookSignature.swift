import Crypto
import Foundation

/// Shopify's webhook signature: base64 HMAC-SHA256 of the raw body keyed with the app's API secret.
public enum WebhookSignature {
    public static func sign(_ body: [UInt8], secret: Secret) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.value.utf8)))).base64EncodedString()
    }

    /// Whether `header` signs `body` with one of `secrets` (the current one and, during a rotation, the previous one).
    public static func verify(_ body: [UInt8], header: String, secrets: [Secret]) -> Bool {
        let given = Array(header.trimmingCharacters(in: .whitespaces).utf8)
        var valid = false
        // Every secret is tried, so timing does not tell which one matched.
        for secret in secrets where ConstantTime.equal(Array(sign(body, secret: secret).utf8), given) { valid = true }
        return valid
    }
}
