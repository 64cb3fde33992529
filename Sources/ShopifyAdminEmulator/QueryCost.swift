/// Shopify's calculated query cost: scalars and enums 0, objects 1, connections 2 + size × (cost of one node's
/// selection), mutations 10. Also checks connection sizes, which Shopify rejects before running anything.
enum QueryCost {
    static let mutationCost = 10

    /// The cost Shopify would charge up front (`requestedQueryCost`).
    static func requested(_ plan: ExecutionPlan, schema: ShopifySchema = .shared) -> Int {
        if plan.rootType == "Mutation" {
            return plan.fields.filter { $0.name != "__typename" }.count * mutationCost
        }
        return plan.fields.reduce(0) { saturatingAdd($0, cost(of: $1, schema: schema)) }
    }

    static func cost(of field: PlannedField, schema: ShopifySchema) -> Int {
        switch field.spec.kind {
        case .scalar:
            return 0
        case .object:
            let own = schema.types[field.spec.typeName]?.cost ?? 0
            return field.children.reduce(own) { saturatingAdd($0, cost(of: $1, schema: schema)) }
        case .connection:
            let size = Int(field.argument("first")?.intValue ?? field.argument("last")?.intValue ?? 0)
            let perNode = field.children.reduce(0) { saturatingAdd($0, cost(of: $1, schema: schema)) }
            return saturatingAdd(2, saturatingMultiply(max(0, size), perNode))
        }
    }

    // Deeply nested connections multiply quickly; a hostile query must be refused, not crash the emulator.
    private static let ceiling = Int(Int32.max)

    private static func saturatingAdd(_ a: Int, _ b: Int) -> Int {
        let (sum, overflow) = a.addingReportingOverflow(b)
        return overflow ? ceiling : min(sum, ceiling)
    }

    private static func saturatingMultiply(_ a: Int, _ b: Int) -> Int {
        let (product, overflow) = a.multipliedReportingOverflow(by: b)
        return overflow ? ceiling : min(product, ceiling)
    }

    /// "you must provide one of first or last" and page-size limits, found before execution like Shopify does.
    static func connectionErrors(_ fields: [PlannedField], path: [ShopifyJSON], maxPageSize: Int) -> [GraphQLError] {
        var errors: [GraphQLError] = []
        for field in fields {
            let fieldPath = path + [.string(field.responseKey)]
            if field.spec.kind == .connection {
                let first = field.argument("first")?.intValue
                let last = field.argument("last")?.intValue
                if first == nil && last == nil {
                    errors.append(GraphQLError("you must provide one of first or last", at: field.location, path: fieldPath))
                }
                for (name, value) in [("first", first), ("last", last)] {
                    guard let value else { continue }
                    if value < 0 {
                        errors.append(GraphQLError("Argument '\(name)' on Field '\(field.name)' has an invalid value (\(value)). Expected type 'Int'.",
                                                   at: field.location, path: fieldPath, code: "argumentLiteralsIncompatible",
                                                   [("typeName", "Field"), ("argumentName", .string(name))]))
                    } else if value > Int64(maxPageSize) {
                        errors.append(GraphQLError("The page size of \(value) exceeds the maximum page size of \(maxPageSize) for \(field.name).",
                                                   at: field.location, path: fieldPath, code: "MAX_PAGE_SIZE_EXCEEDED",
                                                   [("maxPageSize", .int(Int64(maxPageSize)))]))
                    }
                }
            }
            errors += connectionErrors(field.children, path: fieldPath, maxPageSize: maxPageSize)
        }
        return errors
    }
}
