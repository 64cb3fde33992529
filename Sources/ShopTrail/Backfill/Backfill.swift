import Foundation
import Logging

/// `shoptrail backfill`: imports a shop's customers and the orders of the last N days into Braze through the outbox,
/// once, resumably, with a plan and a confirmation before anything is enqueued.
///
/// Phases (persisted in `BackfillJob`): access scopes (more than 60 days without `read_all_orders` is clamped to 60),
/// fetch customers (`updated_at:>=`) and orders with line items (`created_at:>=`) — by bulk operation (JSONL) or,
/// while another bulk query runs, by cost-sized pages — into `backfill_staging`; plan; enqueue in chunks, each chunk's
/// operations committed together with the checkpoint (`backfill:customer:{id}:attributes`, `backfill:order:{id}`, …);
/// done. Delivery is the forwarder's (so Braze's rate limits and retries apply).
public struct Backfill: Sendable {
    /// How Shopify is read.
    public enum Mode: String, Sendable, CaseIterable {
        /// Bulk operations; pages while another bulk query of the shop runs.
        case auto
        case bulk
        case pages
    }

    /// Knobs.
    public struct Settings: Sendable {
        public var days = 90
        public var mode = Mode.auto
        /// Stop after the plan: nothing enqueued, nothing sent.
        public var dryRun = false
        /// Run again after a finished backfill (can re-trigger Canvases).
        public var force = false
        /// Staged rows per enqueue transaction (and per staging transaction of a bulk result).
        public var chunkSize = 500
        /// Requested cost a paginated query may reach (Shopify's single-query limit is 1000).
        public var maxQueryCost: Double = 1000
        /// How `/users/export/ids` waits on rate limits and retries outages (injectable sleep and clock).
        public var brazeLookup = BrazeUserLookup.Policy()

        public init() {}
    }

    /// Why a run did not start or did not go on.
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case alreadyDone(shop: String, finishedAt: EpochMillis)
        case notConfirmed
        case uninstalled(String)
        case invalidDays(Int)
        case missingScope(shop: String, scope: String)
        /// Braze could not say which users exist: the chunk was not enqueued; a re-run continues from it.
        case brazeLookup(BrazeUserLookup.Failure)

        public var description: String {
            switch self {
            case .alreadyDone(let shop, let at):
                "\(shop) was already backfilled on \(Timestamp.format(at)); pass --force to run again, which can re-trigger Canvases"
            case .notConfirmed: "not confirmed: nothing was enqueued"
            case .uninstalled(let shop): "\(shop) uninstalled the app: nothing is sent to Braze for it"
            case .invalidDays(let days): "--days must be between 1 and 3650 (got \(days))"
            case .missingScope(let shop, let scope): "the app lacks the \(scope) scope on \(shop)"
            case .brazeLookup(let failure):
                "\(failure); the chunk was not enqueued and nobody in it was classified: run the backfill again (without --force) to continue from it"
            }
        }
    }

    let shop: ShopConfig
    let states: any StateTransactions
    let store: any BackfillJobStore
    let client: ShopifyAdminClient
    let lookup: BrazeUserLookup?
    let settings: Settings
    let clock: any WallClock
    let logger: Logger

    /// `braze`: used only to ask which users exist (`/users/export/ids`); nil → only ShopTrail's own records decide
    /// which users are new.
    /// `states`: the processor's state (customers, orders marked as sent, the outbox); `jobs`: where the job and its staging live.
    public init(shop: ShopConfig, states: any StateTransactions, jobs: any BackfillJobStore, client: ShopifyAdminClient, braze: (any BrazeSending)?,
                settings: Settings = .init(), clock: any WallClock = SystemClock(), logger: Logger) {
        self.shop = shop
        self.states = states
        self.store = jobs
        self.client = client
        self.lookup = braze.map { BrazeUserLookup(sender: $0, policy: settings.brazeLookup) }
        self.settings = settings
        self.clock = clock
        self.logger = logger
    }

    public typealias Progress = @Sendable (BackfillProgress) async throws -> Void

    /// Runs (or resumes) the backfill. `confirm` is asked once, with the plan, before anything is enqueued (not on a dry
    /// run, nor when resuming a confirmed run). `progress` may throw to stop the run (it resumes later from the checkpoint).
    public func run(confirm: @Sendable (BackfillPlan) async -> Bool, progress: Progress = { _ in }) async throws -> BackfillSummary {
        guard (1...3650).contains(settings.days) else { throw Failure.invalidDays(settings.days) }
        let started = clock.now()
        let domain = shop.domain
        let uninstalled = try await states.read { state in try state.uninstalledAt(shop: domain) }
        if uninstalled != nil { throw Failure.uninstalled(domain) }
        var job = try await store.job(shop: domain)
        var resumed = false
        switch job.state {
        case .done:
            guard settings.force else { throw Failure.alreadyDone(shop: domain, finishedAt: job.finishedAt ?? 0) }
        case .running, .failed:
            // An interrupted run: same window, staged data reused, checkpoint honoured.
            resumed = job.windowStart != nil
        case .notStarted:
            break
        }
        // A dry run of a new job keeps its job in memory: the stored job (e.g. "done") stays as it is.
        let persist = resumed || !settings.dryRun
        if !resumed {
            try await store.clearStaging(shop: domain)
            var fresh = BackfillJob(shop: domain)
            fresh.runs = job.runs
            fresh.requestedDays = settings.days
            job = fresh
        }
        job.state = .running
        job.reason = nil
        job.runs += 1
        if job.startedAt == nil || !resumed { job.startedAt = started }
        job.finishedAt = nil
        if persist { try await store.save(job) }
        let enqueuedBefore = job.counts.operations
        var tally = BrazeUserLookup.Tally()
        let lookupsBefore = (requests: job.counts.brazeLookups, rateLimited: job.counts.brazeRateLimited)
        do {
            if job.windowStart == nil { try await checkScopes(&job, persist: persist) }
            if !job.checkpoint.customersFetched { try await fetch(.customers, &job, persist: persist, progress: progress) }
            if !job.checkpoint.ordersFetched { try await fetch(.orders, &job, persist: persist, progress: progress) }
            job.phase = .plan
            if persist { try await store.save(job) }
            let plan = try await makePlan(job)
            if settings.dryRun {
                if persist { try await store.save(job) } else { try await store.clearStaging(shop: domain) }
                return BackfillSummary(job: job, plan: plan, dryRun: true, resumed: resumed, enqueued: 0, shopify: client.stats,
                                       brazeLookups: BrazeUserLookup.Tally(), durationMillis: clock.now() - started)
            }
            if !job.checkpoint.confirmed {
                guard await confirm(plan) else {
                    job.state = resumed ? .failed : .notStarted
                    job.reason = "not confirmed"
                    try await store.save(job)
                    throw Failure.notConfirmed
                }
                job.checkpoint.confirmed = true
                try await store.save(job)
            }
            try await enqueueCustomers(&job, tally: &tally, base: lookupsBefore, progress: progress)
            try await enqueueOrders(&job, progress: progress)
            job.state = .done
            job.phase = .done
            job.finishedAt = clock.now()
            try await store.save(job)
            try await store.clearStaging(shop: domain)
            return BackfillSummary(job: job, plan: plan, dryRun: false, resumed: resumed, enqueued: job.counts.operations - enqueuedBefore,
                                   shopify: client.stats, brazeLookups: tally, durationMillis: clock.now() - started)
        } catch let failure as Failure where failure == .notConfirmed {
            throw failure
        } catch {
            if persist {
                // The stored job holds the latest checkpoint (phases save it with their work); only the state changes.
                // In an unstructured task: it does not inherit the run's cancellation, so an interrupted run still
                // records why it stopped (a cancelled task's own reads and writes would fail).
                let reason = error is CancellationError ? "interrupted" : "\(error)"
                let lookups = (requests: lookupsBefore.requests + tally.requests, rateLimited: lookupsBefore.rateLimited + tally.rateLimited)
                let (store, current) = (store, job)
                try? await Task {
                    var failed = (try? await store.job(shop: domain)) ?? current
                    failed.state = .failed
                    failed.reason = reason
                    // Lookups of the chunk that failed are committed with no chunk: counted here.
                    failed.counts.brazeLookups = max(failed.counts.brazeLookups, lookups.requests)
                    failed.counts.brazeRateLimited = max(failed.counts.brazeRateLimited, lookups.rateLimited)
                    try await store.save(failed)
                }.value
            }
            throw error
        }
    }

    // MARK: scopes

    private func checkScopes(_ job: inout BackfillJob, persist: Bool) async throws {
        job.phase = .scopes
        let answer = try await client.query(BackfillQueries.accessScopes, estimatedCost: 2)
        let handles = Set((answer.value(at: ["currentAppInstallation", "accessScopes"])?.arrayValue ?? []).compactMap { $0.objectValue?["handle"]?.stringValue })
        for scope in ["read_customers", "read_orders"] where !handles.contains(scope) && !handles.contains(scope.replacingOccurrences(of: "read_", with: "write_")) {
            throw Failure.missingScope(shop: shop.domain, scope: scope)
        }
        var days = settings.days
        if days > 60 && !handles.contains("read_all_orders") {
            days = 60
            job.warning = "the app lacks read_all_orders: Shopify shows only the last 60 days of orders, so the window is clamped from \(settings.days) to 60 days"
            logger.warning("backfill window clamped to 60 days (no read_all_orders)", metadata: ["shop": .string(shop.domain)])
        }
        job.days = days
        // The window is fixed once: a resumed run reads the same customers and orders.
        job.windowStart = clock.now() - EpochMillis(days) * 86_400_000
        job.phase = .fetchCustomers
        if persist { try await store.save(job) }
    }

    // MARK: fetch

    enum Resource {
        case customers, orders
        var kind: String { self == .customers ? "customer" : "order" }
        var phase: BackfillJob.Phase { self == .customers ? .fetchCustomers : .fetchOrders }
    }

    private func fetch(_ resource: Resource, _ job: inout BackfillJob, persist: Bool, progress: Progress) async throws {
        job.phase = resource.phase
        if persist { try await store.save(job) }
        let cursor = resource == .customers ? job.checkpoint.customersCursor : job.checkpoint.ordersCursor
        // A run that was paging goes on paging from its cursor.
        if settings.mode == .pages || cursor != nil {
            return try await fetchPages(resource, &job, persist: persist, progress: progress)
        }
        do {
            try await fetchBulk(resource, &job, persist: persist, progress: progress)
        } catch ShopifyAdminError.bulk(_, let code, let message) where settings.mode == .auto && code == "OPERATION_IN_PROGRESS" {
            logger.notice("another bulk query runs: reading pages", metadata: ["shop": .string(shop.domain), "detail": .string(message)])
            try await fetchPages(resource, &job, persist: persist, progress: progress)
        }
    }

    private func markFetched(_ resource: Resource, _ job: inout BackfillJob) {
        if resource == .customers { job.checkpoint.customersFetched = true } else { job.checkpoint.ordersFetched = true }
    }

    private func fetched(_ resource: Resource, _ job: BackfillJob) -> Int {
        resource == .customers ? job.counts.customersFetched : job.counts.ordersFetched
    }

    private func fetchBulk(_ resource: Resource, _ job: inout BackfillJob, persist: Bool, progress: Progress) async throws {
        guard let since = job.windowStart else { return }
        let query = resource == .customers ? BackfillQueries.bulkCustomers(since: since) : BackfillQueries.bulkOrders(since: since)
        let operation = try await client.runBulkQuery(query)
        var buffer: [(id: String, body: JSONValue)] = []
        // Orders: line items and discount applications come as their own lines (`__parentId`) right after their order;
        // a line item has a LineItem gid, a discount application no id.
        var order: (id: String, node: JSONObject, lines: [JSONValue], discounts: [JSONValue])?
        var current = job
        func flushOrder() {
            guard let pending = order else { return }
            var node = pending.node
            node.members.append((key: "lineItems", value: .array(pending.lines)))
            node.members.append((key: "discountApplications", value: .array(pending.discounts)))
            buffer.append((pending.id, .object(node)))
            order = nil
        }
        if let url = operation.url {
            try await client.bulkResults(url: url) { line in
                if let parent = line["__parentId"]?.stringValue {
                    if parent == order?.id {
                        var child = line
                        child.members.removeAll { $0.key == "__parentId" }
                        if child["id"]?.stringValue?.hasPrefix("gid://shopify/LineItem/") == true {
                            order?.lines.append(.object(child))
                        } else if child["__typename"]?.stringValue?.hasSuffix("Application") == true {
                            // DiscountCodeApplication, AutomaticDiscountApplication, …
                            order?.discounts.append(.object(child))
                        }
                    }
                    return
                }
                guard let id = line["id"]?.stringValue else { return }
                if resource == .orders {
                    flushOrder()
                    order = (id, line, [], [])
                } else {
                    buffer.append((id, .object(line)))
                }
                if buffer.count >= settings.chunkSize {
                    current = try await store.stage(kind: resource.kind, buffer, job: current, persist: persist)
                    buffer.removeAll(keepingCapacity: true)
                    try await progress(BackfillProgress(phase: resource.phase, done: fetched(resource, current), total: nil, counts: current.counts, shopify: client.stats))
                }
            }
        }
        flushOrder()
        markFetched(resource, &current)
        current = try await store.stage(kind: resource.kind, buffer, job: current, persist: persist)
        job = current
        try await progress(BackfillProgress(phase: resource.phase, done: fetched(resource, job), total: fetched(resource, job), counts: job.counts, shopify: client.stats))
    }

    private func fetchPages(_ resource: Resource, _ job: inout BackfillJob, persist: Bool, progress: Progress) async throws {
        guard let since = job.windowStart else { return }
        func text(_ first: Int) -> String {
            resource == .customers ? BackfillQueries.pageCustomers(first: first, since: since) : BackfillQueries.pageOrders(first: first, since: since)
        }
        // Learn one node's cost from a one-node query, then size pages to stay under the single-query limit.
        let probe = try await client.query(text(1), variables: ["cursor": .null], estimatedCost: 150)
        let nodeCost = max(1, (probe.cost?.requestedQueryCost ?? 150) - 2)
        let pageSize = max(1, min(250, Int((settings.maxQueryCost - 2) / nodeCost)))
        let query = text(pageSize)
        logger.info("backfill reading pages", metadata: ["shop": .string(shop.domain), "resource": .string(resource.kind), "page_size": "\(pageSize)"])
        let cursor = resource == .customers ? job.checkpoint.customersCursor : job.checkpoint.ordersCursor
        var current = job
        try await client.paginate(query, connection: [resource == .customers ? "customers" : "orders"], startCursor: cursor,
                                  estimatedCost: 2 + Double(pageSize) * nodeCost) { page in
            let nodes: [(id: String, body: JSONValue)] = page.nodes.compactMap { value in
                guard let node = value.objectValue, let id = node["id"]?.stringValue else { return nil }
                return (id, .object(resource == .orders ? BackfillMapper.pagedOrder(node) : node))
            }
            let info = page.connection["pageInfo"]?.objectValue
            let next = info?["hasNextPage"] == .bool(true) ? info?["endCursor"]?.stringValue : nil
            if resource == .customers { current.checkpoint.customersCursor = next } else { current.checkpoint.ordersCursor = next }
            if next == nil { markFetched(resource, &current) }
            current = try await store.stage(kind: resource.kind, nodes, job: current, persist: persist)
            try await progress(BackfillProgress(phase: resource.phase, done: fetched(resource, current), total: nil, counts: current.counts, shopify: client.stats))
        }
        markFetched(resource, &current)
        if persist { try await store.save(current) }
        job = current
    }

    // MARK: plan

    private func makePlan(_ job: BackfillJob) async throws -> BackfillPlan {
        var plan = BackfillPlan(shop: shop.domain, windowStart: job.windowStart ?? 0, days: job.days ?? settings.days,
                                requestedDays: job.requestedDays ?? settings.days, warning: job.warning, naming: shop.braze.events)
        var unknownLocally = 0
        var subscriptionOps = 0
        for resource in [Resource.customers, .orders] {
            var after: Int64 = resource == .customers ? job.checkpoint.customersEnqueuedSeq : job.checkpoint.ordersEnqueuedSeq
            while true {
                let rows = try await store.staged(shop: shop.domain, kind: resource.kind, after: after, limit: 2_000)
                guard let last = rows.last else { break }
                after = last.seq
                let shop = self.shop
                let force = settings.force
                let (part, unknown) = try await states.read { state -> (BackfillPlan, Int) in
                    var part = BackfillPlan(shop: shop.domain, windowStart: 0, days: 0, requestedDays: 0, naming: shop.braze.events)
                    var unknown = 0
                    for row in rows {
                        if resource == .customers {
                            guard let built = try Self.customerOperations(row.body, shop: shop, state: state, isNew: nil) else { part.customersSkipped += 1; continue }
                            part.customers += built.attributes > 0 ? 1 : 0
                            part.customersSkipped += built.attributes > 0 ? 0 : 1
                            // Data points as Braze counts them (see `BrazeDataPoints`): subscription states are free.
                            part.attributeDataPoints += built.operations.reduce(0) { $0 + BrazeDataPoints.of($1) }
                            part.operations += built.attributes > 0 ? 1 : 0
                            if built.unknownLocally { unknown += 1 }
                            if built.subscriptionCandidate { part.subscriptionCandidates += 1 }
                        } else {
                            let built = try Self.orderOperations(row.body, shop: shop, state: state, force: force, dryRun: true) { key in
                                try !state.isMarked(shop: shop.domain, key: key)
                            }
                            guard !built.isEmpty else { part.ordersSkipped += 1; continue }
                            part.orders += 1
                            part.operations += built.count
                            part.eventDataPoints += built.filter { $0.kind == .event }.reduce(0) { $0 + BrazeDataPoints.of($1) }
                            part.purchaseDataPoints += built.filter { $0.kind == .purchase }.reduce(0) { $0 + BrazeDataPoints.of($1) }
                        }
                    }
                    return (part, unknown)
                }
                plan.customers += part.customers
                plan.customersSkipped += part.customersSkipped
                plan.orders += part.orders
                plan.ordersSkipped += part.ordersSkipped
                plan.attributeDataPoints += part.attributeDataPoints
                plan.eventDataPoints += part.eventDataPoints
                plan.purchaseDataPoints += part.purchaseDataPoints
                plan.operations += part.operations
                plan.subscriptionCandidates += part.subscriptionCandidates
                unknownLocally += unknown
            }
        }
        subscriptionOps = plan.subscriptionCandidates
        plan.operations += subscriptionOps
        func requests(_ n: Int, _ per: Int) -> Int { (n + per - 1) / per }
        plan.brazeRequests = requests(plan.customers + subscriptionOps, 75) + requests(plan.eventDataPoints, 75) + requests(plan.purchaseDataPoints, 75)
            + (lookup == nil ? 0 : requests(unknownLocally, BrazeUserLookup.batchSize))
        // Already-enqueued work of a resumed run is not part of what is left.
        return plan
    }

    // MARK: operations

    struct CustomerOperations {
        var operations: [BrazeOperation]
        var customer: Customer
        /// Attribute data points written.
        var attributes: Int
        var unknownLocally: Bool
        /// Unknown locally with a state for a configured subscription group.
        var subscriptionCandidate: Bool
        var externalId: String
    }

    /// The operations of one staged customer; `isNew` nil only counts (plan). Nil when the customer has no external id.
    static func customerOperations(_ node: JSONObject, shop: ShopConfig, state: any ProcessorState, isNew: Bool?) throws -> CustomerOperations? {
        guard let fetched = BackfillMapper.customer(node, shop: shop.domain) else { return nil }
        let local = try state.customer(shop: shop.domain, id: fetched.id)
        var customer = local ?? Customer(shop: shop.domain, id: fetched.id)
        customer.email = fetched.email ?? customer.email
        customer.phone = fetched.phone ?? customer.phone
        customer.firstName = fetched.firstName ?? customer.firstName
        customer.lastName = fetched.lastName ?? customer.lastName
        guard case .externalId(let externalId)? = BrazeTarget.of(customer, shop: shop) else { return nil }
        let target = BrazeTarget.externalId(externalId)
        let userKey = "c:" + customer.id
        let now = SystemClock().now()
        var operations: [BrazeOperation] = []
        var attributeCount = 0
        // A webhook that applied a newer version of the customer wins: its attributes are not overwritten.
        let updated = Timestamp.parse(node["updatedAt"]?.stringValue ?? "") ?? 0
        let applied = try state.resourceVersion(shop: shop.domain, kind: "customer", id: customer.id)
        if applied.map({ $0 <= updated }) ?? true {
            let changed = customer.changedAttributes(BackfillMapper.attributes(node, customer: customer))
            attributeCount = changed.count
            if !changed.isEmpty {
                operations.append(BrazeOperation(id: "backfill:customer:\(customer.id):attributes", shop: shop.domain, userKey: userKey, kind: .attributes,
                                                 payload: JSONValue.object(JSONObject(target.identifierMembers + changed)).serialized, createdAt: now))
            }
        }
        let states = BackfillMapper.marketingStates(node)
        var groups: [JSONValue] = []
        // As the webhook path: SUBSCRIBED → subscribed, any other state → unsubscribed, in the shop's groups only.
        for (state, group) in [(states.email, shop.braze.emailSubscriptionGroupId), (states.sms, shop.braze.smsSubscriptionGroupId)] {
            guard let state, let group else { continue }
            groups.append(.object(JSONObject([
                ("subscription_group_id", .string(group)), ("subscription_state", .string(state == "SUBSCRIBED" ? "subscribed" : "unsubscribed")),
            ])))
        }
        if isNew == true, !groups.isEmpty {
            operations.append(BrazeOperation(id: "backfill:customer:\(customer.id):subscriptions", shop: shop.domain, userKey: userKey, kind: .attributes,
                                             payload: JSONValue.object(JSONObject(target.identifierMembers + [("subscription_groups", .array(groups))])).serialized,
                                             createdAt: now))
        }
        // Braze's connector's customer-id alias on the profile (free of data points; adding it again is a no-op).
        if !operations.isEmpty {
            let alias = OperationBuilder.customerIdAliasEntry(customerId: customer.id, externalId: externalId, label: shop.braze.customerIdAliasLabel)
            operations.append(BrazeOperation(id: "backfill:customer:\(customer.id):alias", shop: shop.domain, userKey: userKey, kind: .aliasNew,
                                             payload: alias.serialized, createdAt: now))
        }
        return CustomerOperations(operations: operations, customer: customer, attributes: attributeCount, unknownLocally: local == nil,
                                  subscriptionCandidate: local == nil && !groups.isEmpty, externalId: externalId)
    }

    /// The operations of one staged order (empty: skipped). `dryRun` only reads (the order is not marked as placed).
    static func orderOperations(_ node: JSONObject, shop: ShopConfig, state: any ProcessorState, force: Bool, dryRun: Bool,
                                firstPlacement: (String) throws -> Bool) throws -> [BrazeOperation] {
        guard node["test"] != .bool(true), let order = BackfillMapper.restOrder(node), let orderId = order["id"]?.idString,
              let fetched = BackfillMapper.orderCustomer(node, shop: shop.domain) else { return [] }
        var customer = try state.customer(shop: shop.domain, id: fetched.id) ?? fetched
        if customer.email == nil { customer.email = fetched.email }
        guard case .externalId(let externalId)? = BrazeTarget.of(customer, shop: shop) else { return [] }
        // An order a webhook already placed is not sent again (unless forced).
        guard try firstPlacement("order_placed:\(orderId)") || force else { return [] }
        if !dryRun, try state.customer(shop: shop.domain, id: customer.id) == nil { try state.save(customer) }
        let target = BrazeTarget.externalId(externalId)
        let userKey = "c:" + customer.id
        let time = Timestamp.parse(node["createdAt"]?.stringValue ?? "") ?? 0
        let mapper = OrderMapper(naming: shop.braze.events, shopDomain: shop.domain)
        let now = SystemClock().now()
        var operations: [BrazeOperation] = []
        for (name, properties) in mapper.placed(order) {
            let object = JSONObject(target.identifierMembers + [
                ("name", .string(name)), ("time", .string(Timestamp.format(time))),
                ("properties", .object(properties.merging([("backfilled", .bool(true))]))),
            ])
            operations.append(BrazeOperation(id: "backfill:order:\(orderId)", shop: shop.domain, userKey: userKey, kind: .event,
                                             payload: JSONValue.object(object).serialized, createdAt: now))
        }
        if shop.braze.events == .legacy {
            for (index, purchase) in mapper.purchases(order).enumerated() {
                var purchase = purchase
                let properties = (purchase["properties"]?.objectValue ?? JSONObject()).merging([("backfilled", .bool(true))])
                purchase = purchase.merging([("properties", .object(properties))])
                let object = JSONObject(target.identifierMembers + purchase.members + [("time", .string(Timestamp.format(time)))])
                operations.append(BrazeOperation(id: "backfill:order:\(orderId):purchase:\(index)", shop: shop.domain, userKey: userKey, kind: .purchase,
                                                 payload: JSONValue.object(object).serialized, createdAt: now))
            }
        }
        return operations
    }


    // MARK: enqueue

    /// Customers in chunks: Braze is asked which of the chunk's unknown users exist, then the chunk's operations, local
    /// records and the checkpoint are committed together. A chunk Braze cannot classify fails the run before anything of
    /// it is committed, so the next run starts from it.
    private func enqueueCustomers(_ job: inout BackfillJob, tally: inout BrazeUserLookup.Tally, base lookupsBefore: (requests: Int, rateLimited: Int),
                                  progress: Progress) async throws {
        job.phase = .enqueueCustomers
        try await store.save(job)
        let total = job.counts.customersFetched
        let shop = self.shop
        while true {
            try Task.checkCancellation()
            let rows = try await store.staged(shop: shop.domain, kind: "customer", after: job.checkpoint.customersEnqueuedSeq, limit: settings.chunkSize)
            guard let last = rows.last else { break }
            // Who would be new: unknown to ShopTrail (read before the chunk's transaction, which saves them)...
            let candidates = try await states.read { state -> [String] in
                try rows.compactMap { row in
                    guard let built = try Self.customerOperations(row.body, shop: shop, state: state, isNew: nil), built.unknownLocally else { return nil }
                    return built.externalId
                }
            }
            // ...and absent from Braze. Without a Braze to ask, ShopTrail's records decide; if Braze cannot answer, the
            // run stops here: nobody is classified by a guess.
            var newIds = Set(candidates)
            if let lookup, !candidates.isEmpty {
                let before = tally
                do {
                    newIds.subtract(try await lookup.existing(candidates, tally: &tally))
                } catch let failure as BrazeUserLookup.Failure {
                    logger.error("braze /users/export/ids failed: the backfill stops before this chunk",
                                 metadata: ["shop": .string(shop.domain), "error": .string("\(failure)")])
                    throw Failure.brazeLookup(failure)
                }
                if tally.rateLimited > before.rateLimited {
                    logger.notice("braze /users/export/ids rate limited: waited", metadata: [
                        "shop": .string(shop.domain), "answers_429": "\(tally.rateLimited - before.rateLimited)",
                        "waited_ms": "\(tally.waitedMillis - before.waitedMillis)",
                    ])
                }
            }
            job = try await store.commitChunk { [job, newIds, tally, lookupsBefore] state in
                var job = job
                job.counts.brazeLookups = lookupsBefore.requests + tally.requests
                job.counts.brazeRateLimited = lookupsBefore.rateLimited + tally.rateLimited
                var operations: [BrazeOperation] = []
                for row in rows {
                    let built = try Self.customerOperations(row.body, shop: shop, state: state, isNew: nil)
                    let isNew = built.map { $0.unknownLocally && newIds.contains($0.externalId) } ?? false
                    guard let built = try Self.customerOperations(row.body, shop: shop, state: state, isNew: isNew) else {
                        job.counts.customersSkipped += 1
                        continue
                    }
                    if let updated = Timestamp.parse(row.body["updatedAt"]?.stringValue ?? ""),
                       (try state.resourceVersion(shop: shop.domain, kind: "customer", id: built.customer.id)).map({ $0 <= updated }) ?? true {
                        try state.saveResource(shop: shop.domain, kind: "customer", id: built.customer.id, updatedAt: updated, body: nil, deleted: false)
                    }
                    try state.save(built.customer)
                    operations += built.operations
                    job.counts.customersEnqueued += 1
                    if isNew { job.counts.newUsers += 1 }
                    if built.operations.contains(where: { $0.id.hasSuffix(":subscriptions") }) { job.counts.subscriptionStates += 1 }
                }
                job.checkpoint.customersEnqueuedSeq = last.seq
                return (job, operations)
            }
            try await progress(BackfillProgress(phase: .enqueueCustomers, done: job.counts.customersEnqueued + job.counts.customersSkipped, total: total,
                                                counts: job.counts, shopify: client.stats))
        }
    }

    /// Orders in chunks, each committed with the checkpoint.
    private func enqueueOrders(_ job: inout BackfillJob, progress: Progress) async throws {
        job.phase = .enqueueOrders
        try await store.save(job)
        let total = job.counts.ordersFetched
        let shop = self.shop
        let force = settings.force
        while true {
            try Task.checkCancellation()
            let rows = try await store.staged(shop: shop.domain, kind: "order", after: job.checkpoint.ordersEnqueuedSeq, limit: settings.chunkSize)
            guard let last = rows.last else { break }
            job = try await store.commitChunk { [job] state in
                var job = job
                var operations: [BrazeOperation] = []
                for row in rows {
                    let built = try Self.orderOperations(row.body, shop: shop, state: state, force: force, dryRun: false) { key in
                        try state.markOnce(shop: shop.domain, key: key)
                    }
                    if built.isEmpty { job.counts.ordersSkipped += 1 } else { job.counts.ordersEnqueued += 1 }
                    operations += built
                }
                job.checkpoint.ordersEnqueuedSeq = last.seq
                return (job, operations)
            }
            try await progress(BackfillProgress(phase: .enqueueOrders, done: job.counts.ordersEnqueued + job.counts.ordersSkipped, total: total,
                                                counts: job.counts, shopify: client.stats))
        }
    }
}
