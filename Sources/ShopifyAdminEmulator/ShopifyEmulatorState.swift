import Foundation

/// Everything the emulator remembers: the data set, the cost bucket, bulk operations and counters.
/// One actor, so each request sees and changes a consistent shop.
public actor ShopifyEmulatorState {
    public nonisolated let configuration: ShopifyEmulatorConfiguration
    /// The data set the emulator started with (`reset()` returns to it).
    public nonisolated let initialDataSet: ShopifyDataSet
    /// The data set as it is now (after `setInventory` / `updateProduct`).
    public private(set) var dataSet: ShopifyDataSet
    private var views: DataSetViews
    private var bucket: LeakyBucket
    private var counters = ShopifyEmulatorStats(requests: 0, throttled: 0, maxCostExceeded: 0, bulkOperations: 0, pointsSpent: 0, currentlyAvailable: 0)
    private var bulkOperations: [ShopifyEmulatorBulkOperation] = []
    private var bulkResults: [Int64: Data] = [:]
    private var bulkTasks: [Int64: Task<Void, Never>] = [:]
    private var bulkSerial: Int64 = 0
    private var boundBaseURL: String?
    /// Bumped by `reset()`, so a bulk task started before a reset cannot write into the fresh state.
    private var generation = 0

    public init(configuration: ShopifyEmulatorConfiguration = .init()) {
        self.configuration = configuration
        let data = configuration.makeDataSet()
        initialDataSet = data
        dataSet = data
        views = DataSetViews(data)
        bucket = LeakyBucket(maximumAvailable: configuration.throttle.maximumAvailable, restoreRate: configuration.throttle.restoreRate)
    }

    /// Tells the state where it is listening, for bulk result URLs.
    public func setServerBaseURL(_ url: String) { boundBaseURL = url }

    private var shopContext: ShopContext {
        ShopContext(domain: configuration.shopDomain, name: configuration.shopName, email: configuration.shopEmail,
                    currencyCode: dataSet.currencyCode, ianaTimezone: configuration.ianaTimezone,
                    scopes: Set(configuration.accessScopes), maxPageSize: configuration.maxPageSize)
    }

    private func executionContext(now: Date) -> ExecutionContext {
        ExecutionContext(data: dataSet, views: views, shop: shopContext, now: now, bulkOperations: bulkOperations)
    }

    // MARK: GraphQL

    /// Answers `POST /admin/api/{version}/graphql.json`: auth, body, parse, validate, cost, bucket, execute.
    public func handleGraphQL(apiVersion: String, accessToken: String?, contentType: String?, body: Data, requestHost: String? = nil) -> ShopifyEmulatorResponse {
        counters.requests += 1
        let headers = [("X-Shopify-API-Version", apiVersion), ("X-Request-Id", "emulator-\(counters.requests)")]
        guard let accessToken, configuration.accessTokens.contains(accessToken) else {
            return ShopifyEmulatorResponse(status: 401, body: ["errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"], headers: headers)
        }
        let query: String
        var variables: [(String, ShopifyJSON)] = []
        var operationName: String? = nil
        if let contentType, contentType.lowercased().hasPrefix("application/graphql") {
            query = String(decoding: body, as: UTF8.self)
        } else {
            guard let json = ShopifyJSON.parse(body), json.objectPairs != nil else {
                return ShopifyEmulatorResponse(status: 400, body: ["errors": "Bad Request: the request body is not a JSON object"], headers: headers)
            }
            guard let text = json["query"]?.stringValue, !text.isEmpty else {
                return ShopifyEmulatorResponse(status: 400, body: ["errors": ["query": "Required parameter missing or invalid"]], headers: headers)
            }
            query = text
            switch json["variables"] {
            case .object(let pairs)?: variables = pairs
            case .string(let text)?: variables = ShopifyJSON.parse(text)?.objectPairs ?? []  // some clients send a JSON string
            default: break
            }
            operationName = json["operationName"]?.stringValue
        }
        let now = configuration.now()
        var response = execute(query: query, variables: variables, operationName: operationName, now: now, requestHost: requestHost)
        response.headers = headers
        return response
    }

    private func costExtension(requested: Int, actual: Int?, now: Date) -> ShopifyJSON {
        bucket.refill(now: now)
        return ["requestedQueryCost": .int(Int64(requested)), "actualQueryCost": actual.map { .int(Int64($0)) } ?? .null,
                "throttleStatus": bucket.throttleStatus()]
    }

    private func errorAnswer(_ errors: [GraphQLError], requested: Int = 0, actual: Int? = 0, now: Date) -> ShopifyEmulatorResponse {
        ShopifyEmulatorResponse(status: 200, body: [
            "errors": .array(errors.map(\.json)),
            "extensions": ["cost": costExtension(requested: requested, actual: actual, now: now)],
        ])
    }

    private func execute(query: String, variables: [(String, ShopifyJSON)], operationName: String?, now: Date, requestHost: String?) -> ShopifyEmulatorResponse {
        let document: GraphQLDocument
        do {
            document = try GraphQLParser.parse(query)
        } catch {
            return errorAnswer([GraphQLError(error.message, locations: [error.location])], now: now)
        }
        var planner = GraphQLPlanner(schema: .shared, document: document)
        let plan: ExecutionPlan
        switch planner.plan(operationName: operationName, variables: variables) {
        case .success(let value): plan = value
        case .failure(let list): return errorAnswer(list.errors, now: now)
        }
        let connectionErrors = QueryCost.connectionErrors(plan.fields, path: [.string(plan.operation.pathName)], maxPageSize: configuration.maxPageSize)
        if !connectionErrors.isEmpty { return errorAnswer(connectionErrors, now: now) }

        let requested = QueryCost.requested(plan)
        let maxCost = configuration.throttle.maxSingleQueryCost
        if requested > maxCost {
            counters.maxCostExceeded += 1
            let message = """
                Query cost is \(requested), which exceeds the single query max cost limit (\(maxCost)).

                See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the
                cost of a query is calculated.

                To query larger amounts of data with fewer limits, bulk operations should be used instead.
                See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.

                """
            return errorAnswer([GraphQLError(message, extensions: [("code", "MAX_COST_EXCEEDED"), ("cost", .int(Int64(requested))),
                                                                   ("maxCost", .int(Int64(maxCost)))])],
                               requested: requested, actual: nil, now: now)
        }
        guard bucket.charge(requested, now: now) else {
            counters.throttled += 1
            return errorAnswer([GraphQLError("Throttled", extensions: [("code", "THROTTLED"), ("documentation", "https://shopify.dev/api/usage/rate-limits")])],
                               requested: requested, actual: nil, now: now)
        }

        var executor = GraphQLExecutor(context: executionContext(now: now))
        if plan.rootType == "Mutation" {
            executor.mutationResults = runMutations(plan.fields, now: now, requestHost: requestHost)
        }
        let data = executor.run(plan)
        // Mutations cost their flat price; queries what they returned, never more than was charged.
        let actual = plan.rootType == "Mutation" ? requested : min(executor.actualCost, requested)
        bucket.refund(requested - actual)
        counters.pointsSpent += actual
        var body: [(String, ShopifyJSON)] = []
        if !executor.errors.isEmpty { body.append(("errors", .array(executor.errors.map(\.json)))) }
        body.append(("data", data))
        var extensions: [(String, ShopifyJSON)] = []
        if !executor.searchWarnings.isEmpty { extensions.append(("search", .array(executor.searchWarnings))) }
        extensions.append(("cost", costExtension(requested: requested, actual: actual, now: now)))
        body.append(("extensions", .object(extensions)))
        return ShopifyEmulatorResponse(status: 200, body: .object(body))
    }

    // MARK: Mutations

    /// Runs the mutation root fields in order, before the selection is executed over their payloads.
    private func runMutations(_ fields: [PlannedField], now: Date, requestHost: String?) -> [String: GraphNode] {
        var results: [String: GraphNode] = [:]
        for field in fields {
            switch field.name {
            case "bulkOperationRunQuery":
                results[field.responseKey] = runBulkQuery(field, now: now, requestHost: requestHost)
            case "bulkOperationCancel":
                results[field.responseKey] = cancelBulkOperation(field, now: now)
            default:
                break
            }
        }
        return results
    }

    private func runBulkQuery(_ field: PlannedField, now: Date, requestHost: String?) -> GraphNode {
        func failure(_ message: String, field: [String]? = ["query"], code: String = "INVALID") -> GraphNode {
            .bulkPayload(nil, [.userError(field: field, message: message, code: code)])
        }
        if let running = bulkOperations.last(where: { !$0.status.isFinished }) {
            return failure("A bulk query operation for this app and shop is already in progress: \(running.gid).", field: nil,
                           code: "OPERATION_IN_PROGRESS")
        }
        let text = field.argument("query")?.stringValue ?? ""
        let document: GraphQLDocument
        do {
            document = try GraphQLParser.parse(text)
        } catch {
            return failure("Invalid bulk query: \(error.message)")
        }
        var planner = GraphQLPlanner(schema: .shared, document: document)
        let plan: ExecutionPlan
        switch planner.plan(operationName: nil, variables: []) {
        case .success(let value): plan = value
        case .failure(let list):
            return .bulkPayload(nil, list.errors.map { .userError(field: ["query"], message: "Invalid bulk query: \($0.message)", code: "INVALID") })
        }
        let shapeErrors = BulkQueryRunner.shapeErrors(plan)
        guard shapeErrors.isEmpty else {
            return .bulkPayload(nil, shapeErrors.map { .userError(field: ["query"], message: $0, code: "INVALID") })
        }
        bulkSerial += 1
        counters.bulkOperations += 1
        let id = 4_412_345_678_900 + bulkSerial
        let base = configuration.publicBaseURL ?? boundBaseURL ?? "http://\(requestHost ?? "127.0.0.1")"
        let operation = ShopifyEmulatorBulkOperation(
            id: id, status: .created, errorCode: nil, createdAt: now, completedAt: nil, objectCount: 0, rootObjectCount: 0,
            fileSize: nil, url: nil, partialDataUrl: nil, query: text, groupObjects: field.argument("groupObjects")?.boolValue ?? false
        )
        bulkOperations.append(operation)
        let context = executionContext(now: now)
        let minimum = configuration.bulkMinimumDuration
        let generation = self.generation
        let url = "\(base.hasSuffix("/") ? String(base.dropLast()) : base)/_emulator/bulk/\(id).jsonl"
        bulkTasks[id] = Task.detached { [weak self] in
            let started = ContinuousClock.now
            await self?.markBulkRunning(id, generation: generation)
            // The work runs off the actor so the shop keeps answering while a backfill is exported.
            let output = BulkQueryRunner.run(plan, context: context)
            try? await Task.sleep(until: started.advanced(by: minimum), clock: .continuous)
            await self?.finishBulk(id, output: output, url: url, generation: generation)
        }
        return .bulkPayload(operation, [])
    }

    private func markBulkRunning(_ id: Int64, generation: Int) {
        guard generation == self.generation, let index = bulkOperations.firstIndex(where: { $0.id == id }),
              bulkOperations[index].status == .created else { return }
        bulkOperations[index].status = .running
    }

    private func finishBulk(_ id: Int64, output: BulkQueryRunner.Output, url: String, generation: Int) {
        guard generation == self.generation, let index = bulkOperations.firstIndex(where: { $0.id == id }) else { return }
        bulkTasks[id] = nil
        let now = configuration.now()
        var operation = bulkOperations[index]
        operation.completedAt = now
        if operation.status == .canceling {
            operation.status = .canceled
        } else if let errorCode = output.errorCode {
            operation.status = .failed
            operation.errorCode = errorCode
        } else {
            operation.status = .completed
            operation.objectCount = output.objectCount
            operation.rootObjectCount = output.rootObjectCount
            operation.fileSize = output.jsonl.count
            // Shopify gives no URL when nothing matched.
            if output.objectCount > 0 {
                operation.url = url
                bulkResults[id] = output.jsonl
            }
        }
        bulkOperations[index] = operation
    }

    private func cancelBulkOperation(_ field: PlannedField, now: Date) -> GraphNode {
        let text = field.argument("id")?.stringValue ?? ""
        let number = text.hasPrefix("gid://shopify/BulkOperation/") ? Int64(text.dropFirst("gid://shopify/BulkOperation/".count)) : nil
        guard let number, let index = bulkOperations.firstIndex(where: { $0.id == number }) else {
            return .bulkPayload(nil, [.userError(field: ["id"], message: "Bulk operation does not exist", code: nil)])
        }
        let operation = bulkOperations[index]
        guard !operation.status.isFinished else {
            return .bulkPayload(operation, [.userError(field: nil, message: "A bulk operation cannot be canceled when it is \(operation.status.rawValue.lowercased())", code: nil)])
        }
        bulkOperations[index].status = .canceling
        // Wakes the task from its minimum-duration wait so cancelling is prompt.
        bulkTasks[number]?.cancel()
        return .bulkPayload(bulkOperations[index], [])
    }

    // MARK: Bulk results and inspection

    /// The JSONL of a completed bulk operation.
    public func bulkResult(id: Int64) -> Data? { bulkResults[id] }

    public func bulkOperation(id: Int64) -> ShopifyEmulatorBulkOperation? { bulkOperations.first { $0.id == id } }

    /// All bulk operations, oldest first.
    public func allBulkOperations() -> [ShopifyEmulatorBulkOperation] { bulkOperations }

    public func stats() -> ShopifyEmulatorStats {
        bucket.refill(now: configuration.now())
        var stats = counters
        stats.currentlyAvailable = bucket.currentlyAvailable
        return stats
    }

    /// Counts and ranges of the data set, for `GET /_emulator/dataset/summary`.
    public func datasetSummary() -> ShopifyJSON {
        let now = configuration.now()
        let cutoff = now.addingTimeInterval(-ShopifyAccess.defaultOrderWindow)
        let orders = dataSet.orders
        let variants = dataSet.products.reduce(0) { $0 + $1.variants.count }
        return [
            "shop": .string(configuration.shopDomain),
            "currencyCode": .string(dataSet.currencyCode),
            "seed": .string(String(dataSet.seed)),
            "generatedAt": .string(ShopifyTime.format(dataSet.now)),
            "now": .string(ShopifyTime.format(now)),
            "accessScopes": .array(configuration.accessScopes.map(ShopifyJSON.string)),
            "customers": .int(Int64(dataSet.customers.count)),
            "orders": .int(Int64(orders.count)),
            "ordersWithin60Days": .int(Int64(orders.filter { $0.createdAt >= cutoff }.count)),
            "ordersWithin90Days": .int(Int64(orders.filter { $0.createdAt >= now.addingTimeInterval(-90 * 86_400) }.count)),
            "guestOrders": .int(Int64(orders.filter { $0.customerId == nil }.count)),
            "testOrders": .int(Int64(orders.filter(\.test).count)),
            "cancelledOrders": .int(Int64(orders.filter { $0.cancelledAt != nil }.count)),
            "oldestOrderAt": orders.first.map { .string(ShopifyTime.format($0.createdAt)) } ?? .null,
            "newestOrderAt": orders.last.map { .string(ShopifyTime.format($0.createdAt)) } ?? .null,
            "products": .int(Int64(dataSet.products.count)),
            "activeProducts": .int(Int64(dataSet.products.filter { $0.status == .active }.count)),
            "variants": .int(Int64(variants)),
        ]
    }

    // MARK: Changing the shop

    private func stamp() -> Date { Date(timeIntervalSince1970: configuration.now().timeIntervalSince1970.rounded(.down)) }

    /// Sets a variant's stock by inventory item id, bumps its `updatedAt` (and the product's when `touchProduct`),
    /// and returns the `inventory_levels/update` webhook body; nil when no variant has that inventory item.
    @discardableResult
    public func setInventory(inventoryItemId: Int64, available: Int, touchProduct: Bool = true) -> ShopifyInventoryLevelUpdate? {
        guard let location = dataSet.variantLocation(inventoryItemId: inventoryItemId) else { return nil }
        let now = stamp()
        dataSet.updateVariant(at: location) { variant in
            variant.inventoryQuantity = available
            variant.updatedAt = now
        }
        if touchProduct {
            dataSet.updateProduct(at: location.product) { $0.updatedAt = now }
            views.products = DataSetViews.productViews(dataSet.products)
        }
        return ShopifyInventoryLevelUpdate(
            inventoryItemId: inventoryItemId, locationId: configuration.locationId, available: available,
            updatedAt: ShopifyTime.format(now),
            adminGraphqlApiId: "gid://shopify/InventoryLevel/\(configuration.locationId)?inventory_item_id=\(inventoryItemId)"
        )
    }

    /// Edits a product (title, status, prices, …). `updatedAt` is bumped to now unless `change` sets it; `onlineStoreUrl`
    /// and `publishedAt` follow the status. Ids must not change: such an edit is refused (nil).
    @discardableResult
    public func updateProduct(id: Int64, _ change: @Sendable (inout ShopifyProduct) -> Void) -> ShopifyProduct? {
        guard let position = dataSet.productPosition(id: id) else { return nil }
        let before = dataSet.products[position]
        var product = before
        change(&product)
        guard product.id == before.id, product.variants.map(\.id) == before.variants.map(\.id),
              product.variants.map(\.inventoryItemId) == before.variants.map(\.inventoryItemId) else { return nil }
        let now = stamp()
        if product.updatedAt == before.updatedAt { product.updatedAt = now }
        for index in product.variants.indices where product.variants[index] != before.variants[index] {
            if product.variants[index].updatedAt == before.variants[index].updatedAt { product.variants[index].updatedAt = now }
        }
        product.onlineStoreUrl = product.status == .active ? "https://\(configuration.shopDomain)/products/\(product.handle)" : nil
        if product.status == .active, product.publishedAt == nil { product.publishedAt = now }
        if product.status != .active { product.publishedAt = nil }
        let updated = product
        dataSet.updateProduct(at: position) { $0 = updated }
        views.products = DataSetViews.productViews(dataSet.products)
        return updated
    }

    /// Edits one variant through its product (see `updateProduct`).
    @discardableResult
    public func updateVariant(id: Int64, _ change: @Sendable @escaping (inout ShopifyVariant) -> Void) -> ShopifyVariant? {
        guard let location = dataSet.variantLocation(id: id) else { return nil }
        let productId = dataSet.products[location.product].id
        return updateProduct(id: productId) { change(&$0.variants[location.variant]) }?.variants[location.variant]
    }

    /// Back to the initial data set, a full bucket, no bulk operations and zeroed counters.
    public func reset() {
        generation += 1
        for task in bulkTasks.values { task.cancel() }
        bulkTasks.removeAll()
        bulkOperations.removeAll()
        bulkResults.removeAll()
        dataSet = initialDataSet
        views = DataSetViews(initialDataSet)
        bucket.reset()
        counters = ShopifyEmulatorStats(requests: 0, throttled: 0, maxCostExceeded: 0, bulkOperations: 0, pointsSpent: 0, currentlyAvailable: 0)
    }
}
