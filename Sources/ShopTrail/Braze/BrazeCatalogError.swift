import Foundation

/// One entry of a catalog endpoint's error answer: `{"id", "message", "parameters", "parameter_values"}`.
///
/// Catalog endpoints refuse a whole request (400/404) and name what was wrong: the error `id`
/// (`catalog-name-already-exists`, `invalid-ids`, `catalog-not-found`, …) and, for item errors, the
/// offending item ids in `parameter_values`; the forwarder uses them to dead-letter only those items.
public struct BrazeCatalogError: Sendable, Equatable {
    public var id: String
    public var message: String
    public var parameters: [String]
    /// The values Braze names, as text (strings as is, other JSON as its text).
    public var parameterValues: [String]

    public init(id: String, message: String = "", parameters: [String] = [], parameterValues: [String] = []) {
        self.id = id
        self.message = message
        self.parameters = parameters
        self.parameterValues = parameterValues
    }

    /// Braze's "already exists" answer to `POST /catalogs`: the catalog is there, which is what was asked.
    public static let alreadyExists = "catalog-name-already-exists"
    /// The catalog named in an item request does not exist (deleted in the dashboard?).
    public static let catalogNotFound = "catalog-not-found"
    /// Item errors whose `parameter_values` are the refused item ids.
    public static let itemIdErrors: Set<String> = ["invalid-ids", "ids-too-large", "ids-not-strings", "item-not-found", "items-too-large-per-id"]
}

extension BrazeAnswer {
    /// The catalog errors of the answer body (empty when the body has none or is not JSON).
    public var catalogErrors: [BrazeCatalogError] {
        guard let entries = Self.parseJSONObject(body)?["errors"] as? [Any] else { return [] }
        return entries.compactMap { entry in
            guard let object = entry as? [String: Any], let id = object["id"] as? String else { return nil }
            let values = (object["parameter_values"] as? [Any] ?? []).map { value -> String in
                if let text = value as? String { return text }
                if let number = value as? NSNumber { return number.stringValue }
                return String(describing: value)
            }
            return BrazeCatalogError(id: id, message: object["message"] as? String ?? "", parameters: object["parameters"] as? [String] ?? [],
                                     parameterValues: values)
        }
    }
}
