import Foundation

/// POST /catalogs and POST/PATCH/PUT/DELETE /catalogs/{catalog_name}/items, with Braze's catalog error ids.
/// Item endpoints are Braze's asynchronous bulk variants (202); the sandbox applies them before answering.
struct CatalogEndpoints: Sendable {
    let limits: BrazeRequestLimits

    static let fieldTypes: Set<String> = ["string", "number", "boolean", "time", "object", "array"]

    static func isValidName(_ text: String) -> Bool {
        !text.isEmpty && text.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "_" || $0 == "-" }
    }

    func create(_ body: JSONValue, catalogs: inout [String: Catalog], order: inout [String], now: Date) -> SandboxResponse {
        guard let list = body["catalogs"]?.arrayValue, list.allSatisfy({ $0.objectValue != nil }), !list.isEmpty else {
            return .catalogError([CatalogError(id: "catalog-array-invalid", message: "catalogs must be an array of objects", parameters: ["catalogs"], parameterValues: [])])
        }
        guard list.count == 1, let object = list.first?.objectValue else {
            return .catalogError([CatalogError(id: "too-many-catalog-atoms", message: "You can only create one catalog per request", parameters: ["catalogs"], parameterValues: [])])
        }
        var errors: [CatalogError] = []
        let name = object["name"]?.stringValue ?? ""
        if name.count > 250 {
            errors.append(CatalogError(id: "catalog-name-too-large", message: "Character limit for a catalog name is 250", parameters: ["name"], parameterValues: [.string(name)]))
        } else if !Self.isValidName(name) {
            errors.append(CatalogError(id: "invalid_catalog_name", message: "Catalog name can only include letters, numbers, hyphens, and underscores", parameters: ["name"], parameterValues: [.string(name)]))
        } else if catalogs[name] != nil {
            errors.append(CatalogError(id: "catalog-name-already-exists", message: "A catalog with that name already exists", parameters: ["name"], parameterValues: [.string(name)]))
        }
        let description = object["description"]?.stringValue ?? ""
        if description.count > 250 {
            errors.append(CatalogError(id: "description-too-long", message: "Character limit for description is 250", parameters: ["description"], parameterValues: [.string(description)]))
        }
        var fields: [(name: String, type: String)] = []
        if let list = object["fields"]?.arrayValue, !list.isEmpty,
           list.allSatisfy({ $0["name"]?.stringValue != nil && $0["type"]?.stringValue != nil }) {
            fields = list.compactMap { item in
                guard let name = item["name"]?.stringValue, let type = item["type"]?.stringValue else { return nil }
                return (name, type)
            }
        } else {
            errors.append(CatalogError(id: "invalid-fields", message: "fields is not formatted correctly", parameters: ["fields"], parameterValues: []))
        }
        if !fields.isEmpty {
            if fields[0].name != "id" || fields[0].type != "string" {
                errors.append(CatalogError(id: "id-not-first-column", message: "The first field must be 'id' of type string", parameters: ["fields"], parameterValues: [.string(fields[0].name)]))
            }
            if fields.count > 30 {
                errors.append(CatalogError(id: "too-many-fields", message: "Number of fields limit is 30", parameters: ["fields"], parameterValues: [.from(fields.count)]))
            }
            let badNames = fields.map(\.name).filter { !Self.isValidName($0) }
            if !badNames.isEmpty {
                errors.append(CatalogError(id: "invalid-field-names", message: "Fields can only include letters, numbers, hyphens, and underscores", parameters: ["fields"], parameterValues: badNames.map(JSONValue.string)))
            }
            let longNames = fields.map(\.name).filter { $0.count > 250 }
            if !longNames.isEmpty {
                errors.append(CatalogError(id: "field-names-too-large", message: "Character limit for a field name is 250", parameters: ["fields"], parameterValues: longNames.map(JSONValue.string)))
            }
            let badTypes = fields.map(\.type).filter { !Self.fieldTypes.contains($0) }
            if !badTypes.isEmpty {
                errors.append(CatalogError(id: "invalid-field-types", message: "Make sure the field types are valid", parameters: ["fields"], parameterValues: badTypes.map(JSONValue.string)))
            }
            let names = fields.map(\.name)
            if Set(names).count != names.count {
                errors.append(CatalogError(id: "field-names-not-unique", message: "The same field name is referenced twice", parameters: ["fields"], parameterValues: []))
            }
        }
        if !errors.isEmpty { return .catalogError(errors) }
        let catalog = Catalog(name: name, description: description, fields: fields, updatedAt: now)
        catalogs[name] = catalog
        order.append(name)
        return SandboxResponse(status: 201, body: ["catalogs": [catalog.json], "message": "success"])
    }

    enum ItemOperation { case create, edit, replace, delete }

    func items(_ operation: ItemOperation, catalogName: String, body: JSONValue, catalogs: inout [String: Catalog], now: Date) -> SandboxResponse {
        guard var catalog = catalogs[catalogName] else {
            return .catalogError([CatalogError(id: "catalog-not-found", message: "Could not find catalog", parameters: ["catalog_name"], parameterValues: [.string(catalogName)])], status: 404)
        }
        guard let list = body["items"]?.arrayValue, list.allSatisfy({ $0.objectValue != nil }), !list.isEmpty else {
            return .catalogError([CatalogError(id: "item-array-invalid", message: "items must be an array of objects", parameters: ["items"], parameterValues: [])])
        }
        if list.count > limits.maxCatalogItemsPerRequest {
            return .catalogError([CatalogError(id: "request-includes-too-many-items", message: "The item limit per request is \(limits.maxCatalogItemsPerRequest)", parameters: ["items"], parameterValues: [.from(list.count)])])
        }
        let objects = list.compactMap(\.objectValue)
        var errors: [CatalogError] = []
        let rawIds = objects.map { $0["id"] }
        if rawIds.contains(where: { $0 == nil || $0 == .null }) {
            errors.append(CatalogError(id: "items-missing-ids", message: "There are items that do not have item IDs", parameters: ["id"], parameterValues: []))
        }
        let present = rawIds.compactMap { $0 }.filter { $0 != .null }
        let notStrings = present.filter { $0.stringValue == nil }
        if !notStrings.isEmpty {
            errors.append(CatalogError(id: "ids-not-strings", message: "Item IDs must be of type string", parameters: ["id"], parameterValues: notStrings))
        }
        let ids = present.compactMap(\.stringValue)
        let tooLong = ids.filter { $0.count > 250 }
        if !tooLong.isEmpty {
            errors.append(CatalogError(id: "ids-too-large", message: "Item IDs can't be more than 250 characters", parameters: ["id"], parameterValues: tooLong.map(JSONValue.string)))
        }
        let invalid = ids.filter { $0.count <= 250 && !Self.isValidName($0) }
        if !invalid.isEmpty {
            errors.append(CatalogError(id: "invalid-ids", message: "Item IDs can only include letters, numbers, hyphens, and underscores", parameters: ["id"], parameterValues: invalid.map(JSONValue.string)))
        }
        if Set(ids).count != ids.count {
            errors.append(CatalogError(id: "ids-not-unique", message: "Item IDs must be unique in the request", parameters: ["id"], parameterValues: []))
        }
        if operation != .delete {
            errors += fieldErrors(objects, catalog: catalog)
        }
        if !errors.isEmpty { return .catalogError(errors) }

        for object in objects {
            guard let id = object["id"]?.stringValue else { continue }
            switch operation {
            case .create:
                // Creating an id that exists does not overwrite it.
                if catalog.items[id] == nil { catalog.upsert(object, id: id) }
            case .replace:
                catalog.upsert(object, id: id)
            case .edit:
                // Editing an unknown id does nothing.
                guard var existing = catalog.items[id] else { continue }
                for (key, value) in object { existing[key] = value }
                catalog.upsert(existing, id: id)
            case .delete:
                catalog.remove(id: id)
            }
        }
        catalog.updatedAt = now
        catalogs[catalogName] = catalog
        return SandboxResponse(status: 202, body: ["message": "success"])
    }

    private func fieldErrors(_ objects: [[String: JSONValue]], catalog: Catalog) -> [CatalogError] {
        var errors: [CatalogError] = []
        let types = catalog.fieldTypes
        let unknown = Set(objects.flatMap(\.keys)).subtracting(types.keys).sorted()
        if !unknown.isEmpty {
            errors.append(CatalogError(id: "invalid-fields", message: "Some of the fields given do not exist in the catalog", parameters: unknown, parameterValues: []))
        }
        var badKeys: [String] = []
        var tooLarge: [String] = []
        var uncoercible: [String] = []
        for object in objects {
            for (key, value) in object {
                if Self.hasBadKeys(value) { badKeys.append(key) }
                if case .string(let text) = value, text.count > 5000 { tooLarge.append(key) }
                if let type = types[key], !Self.coerces(value, to: type) { uncoercible.append(key) }
            }
        }
        if !badKeys.isEmpty {
            errors.append(CatalogError(id: "invalid-keys-in-value-object", message: "Item object keys can't include '.' or '$'", parameters: Array(Set(badKeys)).sorted(), parameterValues: []))
        }
        if !tooLarge.isEmpty {
            errors.append(CatalogError(id: "items-too-large", message: "Item values can't exceed 5,000 characters", parameters: Array(Set(tooLarge)).sorted(), parameterValues: []))
        }
        if !uncoercible.isEmpty {
            errors.append(CatalogError(id: "unable-to-coerce-value", message: "Item types can't be converted", parameters: Array(Set(uncoercible)).sorted(), parameterValues: []))
        }
        return errors
    }

    static func hasBadKeys(_ value: JSONValue) -> Bool {
        switch value {
        case .object(let object): object.contains { $0.key.contains(".") || $0.key.contains("$") || hasBadKeys($0.value) }
        case .array(let items): items.contains(where: hasBadKeys)
        default: false
        }
    }

    /// Whether a value fits a field type (null clears any field).
    static func coerces(_ value: JSONValue, to type: String) -> Bool {
        if value == .null { return true }
        switch type {
        case "string": return value.stringValue != nil || value.isNumber
        case "number": return value.isNumber || value.stringValue.flatMap(Double.init) != nil
        case "boolean": return value.boolValue != nil || value == "true" || value == "false"
        case "time": return value.stringValue.flatMap(ISO8601Time.parse) != nil
        case "object": return value.objectValue != nil
        case "array": return value.arrayValue != nil
        default: return true
        }
    }
}
