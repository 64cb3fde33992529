import Foundation

/// A Braze catalog: typed fields (first is `id`) and items keyed by id, in insertion order.
struct Catalog: Sendable {
    var name: String
    var description: String
    var fields: [(name: String, type: String)]
    var items: [String: [String: JSONValue]] = [:]
    var itemOrder: [String] = []
    var updatedAt: Date

    var fieldTypes: [String: String] { Dictionary(fields.map { ($0.name, $0.type) }, uniquingKeysWith: { first, _ in first }) }

    var json: JSONValue {
        [
            "name": .string(name),
            "description": .string(description),
            "fields": .array(fields.map { ["name": .string($0.name), "type": .string($0.type)] }),
            "num_items": .from(items.count),
            "updated_at": .string(ISO8601Time.format(updatedAt)),
        ]
    }

    var itemsJSON: JSONValue { .array(itemOrder.compactMap { items[$0].map(JSONValue.object) }) }

    mutating func upsert(_ item: [String: JSONValue], id: String) {
        if items[id] == nil { itemOrder.append(id) }
        items[id] = item
    }

    mutating func remove(id: String) {
        guard items.removeValue(forKey: id) != nil else { return }
        itemOrder.removeAll { $0 == id }
    }
}
