import Foundation

/// A nested connection set aside while writing a bulk JSONL line: its nodes become lines of their own.
struct DeferredConnection {
    var parentId: String
    var typeName: String
    var selection: [PlannedField]
    var nodes: [GraphNode]
}

/// Runs a plan against a snapshot: resolves every selected field, collects field errors with their paths,
/// and counts the actual cost (objects returned, 2 per connection).
struct GraphQLExecutor {
    let context: ExecutionContext
    let schema = ShopifySchema.shared
    var errors: [GraphQLError] = []
    var actualCost = 0
    /// `extensions.search` entries for search queries with ignored terms.
    var searchWarnings: [ShopifyJSON] = []
    /// Bulk mode: connections ignore pagination and nested ones are deferred into separate lines.
    var bulkMode = false
    var deferred: [DeferredConnection] = []
    /// Payloads of the mutation root fields, computed by the state actor before execution, by response key.
    var mutationResults: [String: GraphNode] = [:]
    private(set) var path: [ShopifyJSON] = []

    init(context: ExecutionContext) { self.context = context }

    /// Executes the plan's root fields; the result is the `data` object.
    mutating func run(_ plan: ExecutionPlan) -> ShopifyJSON {
        let root: GraphNode = plan.rootType == "Mutation" ? .mutationRoot : .queryRoot
        return executeObject(plan.fields, on: root, type: plan.rootType)
    }

    mutating func executeObject(_ fields: [PlannedField], on node: GraphNode, type declared: String) -> ShopifyJSON {
        // An interface or union value is of one object type: its fragments apply only when they name it.
        let type = schema.isAbstract(declared) ? objectType(of: node) ?? declared : declared
        actualCost += schema.types[type]?.cost ?? 0
        var pairs: [(String, ShopifyJSON)] = []
        pairs.reserveCapacity(fields.count)
        for field in fields {
            if let condition = field.typeCondition, condition != type { continue }
            if field.name == "__typename" {
                pairs.append((field.responseKey, .string(type)))
                continue
            }
            path.append(.string(field.responseKey))
            defer { path.removeLast() }
            if bulkMode, field.spec.kind == .connection {
                deferConnection(field, on: node)
                continue
            }
            do {
                if let scope = field.spec.requiredScope, !context.shop.hasScope(scope) {
                    throw FieldError(message: "Access denied for \(field.name) field. Required access: `\(scope)` access scope.", extensions: [
                        ("code", "ACCESS_DENIED"), ("documentation", "https://shopify.dev/api/usage/access-scopes"),
                        ("requiredAccess", .string("`\(scope)` access scope.")),
                    ])
                }
                let resolved = try resolve(field, on: node)
                pairs.append((field.responseKey, complete(field, resolved)))
            } catch let error as FieldError {
                errors.append(GraphQLError(error.message, locations: [field.location], path: path, extensions: error.extensions))
                pairs.append((field.responseKey, .null))
            } catch {
                errors.append(GraphQLError("Internal error", locations: [field.location], path: path, extensions: [("code", "INTERNAL_SERVER_ERROR")]))
                pairs.append((field.responseKey, .null))
            }
        }
        return .object(pairs)
    }

    private mutating func complete(_ field: PlannedField, _ resolved: Resolved) -> ShopifyJSON {
        switch resolved {
        case .leaf(let value):
            return value
        case .node(nil):
            return .null
        case .node(let child?):
            if field.spec.kind == .connection { actualCost += 2 }
            return executeObject(field.children, on: child, type: field.spec.typeName)
        case .nodes(let children):
            var items: [ShopifyJSON] = []
            items.reserveCapacity(children.count)
            for (index, child) in children.enumerated() {
                path.append(.int(Int64(index)))
                items.append(executeObject(field.children, on: child, type: field.spec.typeName))
                path.removeLast()
            }
            return .array(items)
        }
    }

    /// Bulk mode: resolve every node of a nested connection and keep it for the caller to write as child lines.
    private mutating func deferConnection(_ field: PlannedField, on node: GraphNode) {
        guard let parentId = gid(of: node) else { return }
        do {
            guard case .node(.connection(let page)?) = try resolve(field, on: node) else { return }
            let nodeType = String(field.spec.typeName.dropLast("Connection".count))
            deferred.append(DeferredConnection(parentId: parentId, typeName: nodeType,
                                               selection: Self.nodeSelection(of: field), nodes: page.nodes))
        } catch let error as FieldError {
            errors.append(GraphQLError(error.message, locations: [field.location], path: path, extensions: error.extensions))
        } catch {}
    }

    /// The fields selected on a connection's nodes, whether written as `edges { node { … } }` or `nodes { … }`.
    static func nodeSelection(of connection: PlannedField) -> [PlannedField] {
        var fields: [PlannedField] = []
        for child in connection.children {
            if child.name == "nodes" {
                fields += child.children
            } else if child.name == "edges" {
                for edgeField in child.children where edgeField.name == "node" { fields += edgeField.children }
            }
        }
        // Same response key twice (both spellings used): keep the first.
        var seen = Set<String>()
        return fields.filter { seen.insert($0.responseKey).inserted }
    }
}
