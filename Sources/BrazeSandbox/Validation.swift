import Foundation

/// A rule a request object broke; `message` becomes the `type` of a Braze minor error.
struct ValidationFailure: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Shape and type checks shared by the users endpoints.
struct Validator: Sendable {
    let limits: BrazeRequestLimits

    static let primaryIdentifierKeys = ["external_id", "user_alias", "braze_id"]
    /// `_docs/_api/objects_filters/event_object.md`, "Reserved keys".
    static let reservedEventPropertyNames = ["time", "event_name"]
    /// The minor error Braze records for an object without identifier (RudderStack's recorded answer, network.ts).
    static let missingIdentifier = "'external_id', 'braze_id', 'user_alias', 'email' or 'phone' is required"

    /// Exactly one of external_id / user_alias / braze_id; without any, email then phone (email wins).
    func identifier(in object: [String: JSONValue]) throws(ValidationFailure) -> UserIdentifier {
        let present = Self.primaryIdentifierKeys.filter { object[$0] != nil && object[$0] != .null }
        if present.count > 1 {
            throw ValidationFailure("only one of 'external_id', 'user_alias' or 'braze_id' may be given, found \(present.map { "'\($0)'" }.joined(separator: " and "))")
        }
        switch present.first {
        case "external_id":
            guard let id = object["external_id"]?.stringValue, !id.isEmpty else {
                throw ValidationFailure("'external_id' must be a non-empty string")
            }
            return .externalId(id)
        case "user_alias":
            return .alias(try alias(object["user_alias"]))
        case "braze_id":
            guard let id = object["braze_id"]?.stringValue, !id.isEmpty else {
                throw ValidationFailure("'braze_id' must be a non-empty string")
            }
            return .brazeId(id)
        default:
            if let email = object["email"], email != .null {
                guard let value = email.stringValue, Self.isValidEmail(value) else {
                    throw ValidationFailure("'email' is not a valid email address")
                }
                return .email(value)
            }
            if let phone = object["phone"], phone != .null {
                guard let value = phone.stringValue, Self.isValidPhone(value) else {
                    throw ValidationFailure("'phone' is not a valid phone number")
                }
                return .phone(value)
            }
            throw ValidationFailure(Self.missingIdentifier)
        }
    }

    func alias(_ value: JSONValue?) throws(ValidationFailure) -> UserAlias {
        guard let object = value?.objectValue,
              let name = object["alias_name"]?.stringValue, !name.isEmpty,
              let label = object["alias_label"]?.stringValue, !label.isEmpty
        else {
            throw ValidationFailure("'user_alias' must be an object with non-empty string 'alias_name' and 'alias_label'")
        }
        return UserAlias(name: name, label: label)
    }

    /// `_update_existing_only`: absent, or a boolean.
    func updateExistingOnly(in object: [String: JSONValue]) throws(ValidationFailure) -> Bool? {
        guard let value = object["_update_existing_only"], value != .null else { return nil }
        guard let flag = value.boolValue else { throw ValidationFailure("'_update_existing_only' must be a boolean") }
        return flag
    }

    func time(_ value: JSONValue?, field: String = "time") throws(ValidationFailure) -> (String, Date) {
        guard let value, value != .null else { throw ValidationFailure("'\(field)' is required") }
        guard let text = value.stringValue, let date = ISO8601Time.parse(text) else {
            throw ValidationFailure("'\(field)' must be an ISO-8601 datetime string")
        }
        return (text, date)
    }

    /// Event/purchase properties: an object; names non-empty, <= 255 chars, no leading `$`; string values <= 255 chars;
    /// with array or object values the payload is capped: 100 KB for events (event_object.md), 50 KB for purchases
    /// (purchase_object.md), measured as the properties' JSON.
    func properties(_ value: JSONValue?, maxPayloadBytes: Int, payloadKind: String) throws(ValidationFailure) -> [String: JSONValue] {
        guard let value, value != .null else { return [:] }
        guard let object = value.objectValue else { throw ValidationFailure("'properties' must be an object") }
        var nested = false
        for (key, property) in object {
            if key.isEmpty { throw ValidationFailure("property names must be non-empty strings") }
            if key.count > limits.maxStringLength {
                throw ValidationFailure("property name '\(key.prefix(32))…' is longer than \(limits.maxStringLength) characters")
            }
            if key.hasPrefix("$") { throw ValidationFailure("property name '\(key)' must not start with '$'") }
            switch property {
            case .string(let text) where text.count > limits.maxStringLength:
                throw ValidationFailure("property '\(key)' is longer than \(limits.maxStringLength) characters")
            case .array, .object: nested = true
            default: break
            }
        }
        if nested {
            let size = value.encoded().count
            if size > maxPayloadBytes {
                throw ValidationFailure("properties payload is \(size) bytes, more than the \(maxPayloadBytes) allowed for a \(payloadKind)")
            }
        }
        return object
    }

    static func isValidEmail(_ email: String) -> Bool {
        let parts = email.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix(".")
        else { return false }
        return !email.contains(where: \.isWhitespace)
    }

    /// E.164-ish: optional +, 7-15 digits, common separators allowed.
    static func isValidPhone(_ phone: String) -> Bool {
        let allowed = Set("+0123456789 -().")
        guard phone.allSatisfy({ allowed.contains($0) }) else { return false }
        let digits = phone.filter(\.isNumber).count
        return (7...15).contains(digits)
    }

    static func isCurrencyCode(_ text: String) -> Bool {
        text.count == 3 && text.allSatisfy { $0.isASCII && $0.isUppercase && $0.isLetter }
    }
}
