import Foundation
import Crypto

/// Derives a customer's Braze `external_id` with the shop's strategy.
public enum ExternalId {
    /// nil when the strategy needs an email and none is known yet (the visitor then stays anonymous to Braze).
    public static func of(_ customer: Customer, strategy: ExternalIdStrategy) -> String? {
        switch strategy {
        case .customerId:
            return customer.id
        case .email:
            return normalizedEmail(customer.email)
        case .emailSHA256:
            guard let email = normalizedEmail(customer.email) else { return nil }
            return digest(email)
        }
    }

    /// Lower-case hex SHA-256 of the text (the `email_sha256` external id, and marks that must not keep an email).
    static func digest(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Trimmed and lower-cased, as Braze's connector does before using or hashing an email.
    static func normalizedEmail(_ email: String?) -> String? {
        guard let trimmed = email?.trimmingCharacters(in: .whitespacesAndNewlines), trimmed.contains("@") else { return nil }
        return trimmed.lowercased()
    }
}
