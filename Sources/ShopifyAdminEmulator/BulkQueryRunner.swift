import Foundation

/// Checks a bulk query's shape (Shopify's limits) and writes its JSONL result: one line per node of the top-level
/// connection, and one line per node of each nested connection carrying `__parentId`, placed right after its parent.
struct BulkQueryRunner {
    static let maxConnections = 5
    static let maxNestingDepth = 2

    /// The problems Shopify reports as `userErrors` for the query's shape; empty when it may run.
    static func shapeErrors(_ plan: ExecutionPlan) -> [String] {
        guard plan.rootType == "QueryRoot" else { return ["Bulk queries must be query operations."] }
        var connections = 0
        var deepest = 0
        func walk(_ fields: [PlannedField], depth: Int) {
            for field in fields {
                var next = depth
                if field.spec.kind == .connection {
                    connections += 1
                    next = depth + 1
                    deepest = max(deepest, next)
                }
                walk(field.children, depth: next)
            }
        }
        walk(plan.fields, depth: 0)
        var errors: [String] = []
        if connections == 0 { errors.append("Bulk queries must contain at least one connection.") }
        if connections > maxConnections { errors.append("Bulk queries cannot contain more than \(maxConnections) connections.") }
        if deepest > maxNestingDepth {
            errors.append("Bulk queries cannot contain connections with a nesting depth greater than \(maxNestingDepth).")
        }
        let roots = plan.fields.filter { $0.name != "__typename" }
        if connections > 0, roots.count != 1 || roots.first?.spec.kind != .connection {
            errors.append("Bulk queries must have exactly one top-level field, and it must be a connection.")
        }
        return errors
    }

    /// The finished result.
    struct Output: Sendable {
        var jsonl: Data
        var rootObjectCount: Int
        var objectCount: Int
        /// ACCESS_DENIED when a needed scope is missing (the operation then fails, as on Shopify).
        var errorCode: String?
    }

    private var executor: GraphQLExecutor
    private var bytes: [UInt8] = []
    private var rootCount = 0
    private var objectCount = 0

    init(context: ExecutionContext) {
        executor = GraphQLExecutor(context: context)
        executor.bulkMode = true
    }

    /// Runs a plan that passed `shapeErrors`. Pure over the snapshot, so it can run off the state actor.
    static func run(_ plan: ExecutionPlan, context: ExecutionContext) -> Output {
        var runner = BulkQueryRunner(context: context)
        return runner.run(plan)
    }

    private mutating func run(_ plan: ExecutionPlan) -> Output {
        guard let root = plan.fields.first(where: { $0.spec.kind == .connection }) else {
            return Output(jsonl: Data(), rootObjectCount: 0, objectCount: 0, errorCode: nil)
        }
        let nodeType = String(root.spec.typeName.dropLast("Connection".count))
        let selection = GraphQLExecutor.nodeSelection(of: root)
        var nodes: [GraphNode] = []
        var errorCode: String? = nil
        if let scope = root.spec.requiredScope, !executor.context.shop.hasScope(scope) {
            errorCode = "ACCESS_DENIED"
        } else if case .node(.connection(let page)?)? = try? executor.resolve(root, on: .queryRoot) {
            nodes = page.nodes
        }
        for node in nodes {
            write(node, selection: selection, type: nodeType, parentId: nil)
            rootCount += 1
        }
        if executor.errors.contains(where: { $0.code == "ACCESS_DENIED" }) { errorCode = "ACCESS_DENIED" }
        return Output(jsonl: Data(bytes), rootObjectCount: rootCount, objectCount: objectCount, errorCode: errorCode)
    }

    private mutating func write(_ node: GraphNode, selection: [PlannedField], type: String, parentId: String?) {
        executor.deferred = []
        var line = executor.executeObject(selection, on: node, type: type)
        let children = executor.deferred
        executor.deferred = []
        if let parentId, case .object(var pairs) = line {
            pairs.append(("__parentId", .string(parentId)))
            line = .object(pairs)
        }
        line.write(into: &bytes)
        bytes.append(UInt8(ascii: "\n"))
        objectCount += 1
        for child in children {
            for childNode in child.nodes {
                write(childNode, selection: child.selection, type: child.typeName, parentId: child.parentId)
            }
        }
    }
}
