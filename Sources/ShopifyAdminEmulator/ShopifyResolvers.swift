import Foundation

/// Field resolvers: how each schema field reads the data set. Names and shapes follow the Admin API.
extension GraphQLExecutor {
    mutating func resolve(_ field: PlannedField, on node: GraphNode) throws -> Resolved {
        switch node {
        case .queryRoot: return try resolveQueryRoot(field)
        case .mutationRoot:
            return .node(mutationResults[field.responseKey])
        case .shop: return resolveShop(field)
        case .domain:
            switch field.name {
            case "id": return .leaf("gid://shopify/Domain/\(ShopifyDataGenerator.shopNumericId)")
            case "host": return .leaf(.string(context.shop.domain))
            case "url": return .leaf(.string("https://\(context.shop.domain)"))
            case "sslEnabled": return .leaf(true)
            default: return .leaf(.null)
            }
        case .appInstallation:
            switch field.name {
            case "id": return .leaf("gid://shopify/AppInstallation/\(ShopifyDataGenerator.shopNumericId + 1)")
            case "accessScopes": return .nodes(context.shop.scopes.sorted().map(GraphNode.accessScope))
            default: return .leaf(.null)
            }
        case .accessScope(let handle):
            return .leaf(field.name == "handle" ? .string(handle) : .string("Access to \(handle.replacingOccurrences(of: "_", with: " "))"))
        case .customer(let position): return try resolveCustomer(field, position)
        case .order(let position): return try resolveOrder(field, position)
        case .lineItem(let order, let line): return resolveLineItem(field, order: order, line: line)
        case .discountApplication(let order, let index): return resolveDiscountApplication(field, context.data.orders[order].discountApplications[index])
        case .discountAllocation(let order, let line, let index):
            let allocation = context.data.orders[order].lineItems[line].discountAllocations[index]
            switch field.name {
            case "allocatedAmountSet": return .node(.moneyBag(allocation.amount))
            case "discountApplication":
                let position = context.data.orders[order].discountApplications.firstIndex { $0.index == allocation.applicationIndex }
                return .node(position.map { GraphNode.discountApplication(order: order, index: $0) })
            default: return .leaf(.null)
            }
        case .percentage(let value):
            return .leaf(field.name == "percentage" ? .double(value) : .null)
        case .product(let position): return try resolveProduct(field, position)
        case .variant(let location): return resolveVariant(field, location)
        case .inventoryItem(let location):
            let variant = context.data.products[location.product].variants[location.variant]
            switch field.name {
            case "id": return .leaf(.string(variant.inventoryItemGid))
            case "legacyResourceId": return .leaf(.string(String(variant.inventoryItemId)))
            case "sku": return .leaf(.from(variant.sku))
            case "tracked": return .leaf(true)
            default: return .leaf(.null)
            }
        case .image(let id, let url, let altText):
            switch field.name {
            case "id": return .leaf(.string(id))
            case "url": return .leaf(.string(url))
            case "altText": return .leaf(.from(altText))
            case "width", "height": return .leaf(2048)
            default: return .leaf(.null)
            }
        case .productOption(let product, let index):
            let option = context.data.products[product].options[index]
            switch field.name {
            case "id": return .leaf(.string("gid://shopify/ProductOption/\(context.data.products[product].id &+ Int64(index) &+ 1)"))
            case "name": return .leaf(.string(option.name))
            case "position": return .leaf(.int(Int64(index + 1)))
            case "values": return .leaf(.array(option.values.map(ShopifyJSON.string)))
            default: return .leaf(.null)
            }
        case .selectedOption(let option):
            return .leaf(field.name == "name" ? .string(option.name) : .string(option.value))
        case .priceRange(let position):
            let prices = context.data.products[position].variants.map(\.price)
            let pick = field.name == "minVariantPrice" ? prices.min { $0.cents < $1.cents } : prices.max { $0.cents < $1.cents }
            return .node(.money(pick ?? ShopifyMoney(cents: 0, currencyCode: context.shop.currencyCode)))
        case .money(let money):
            return .leaf(field.name == "amount" ? .string(money.amount) : .string(money.currencyCode))
        case .moneyBag(let money):
            // Single-currency shop: presentment money equals shop money.
            return .node(.money(money))
        case .address(let position): return resolveAddress(field, position)
        case .emailAddress(let position), .phoneNumber(let position), .emailConsent(let position), .smsConsent(let position):
            return resolveConsent(field, node: node, customer: context.data.customers[position])
        case .count(let count, let exact):
            return .leaf(field.name == "count" ? .int(Int64(count)) : .string(exact ? "EXACT" : "AT_LEAST"))
        case .connection(let page):
            switch field.name {
            case "edges": return .nodes(zip(page.cursors, page.nodes).map { GraphNode.edge(cursor: $0, node: $1) })
            case "nodes": return .nodes(page.nodes)
            case "pageInfo": return .node(.pageInfo(page))
            default: return .leaf(.null)
            }
        case .edge(let cursor, let child):
            return field.name == "cursor" ? .leaf(.string(cursor)) : .node(child)
        case .pageInfo(let page):
            switch field.name {
            case "hasNextPage": return .leaf(.bool(page.hasNextPage))
            case "hasPreviousPage": return .leaf(.bool(page.hasPreviousPage))
            case "startCursor": return .leaf(.from(page.cursors.first))
            case "endCursor": return .leaf(.from(page.cursors.last))
            default: return .leaf(.null)
            }
        case .bulkOperation(let operation): return resolveBulkOperation(field, operation)
        case .bulkPayload(let operation, let userErrors):
            return field.name == "bulkOperation" ? .node(operation.map(GraphNode.bulkOperation)) : .nodes(userErrors)
        case .userError(let fieldPath, let message, let code):
            switch field.name {
            case "field": return .leaf(fieldPath.map { .array($0.map(ShopifyJSON.string)) } ?? .null)
            case "message": return .leaf(.string(message))
            case "code": return .leaf(.from(code))
            default: return .leaf(.null)
            }
        }
    }

    /// The gid of a node that can parent bulk child lines.
    /// The object type of an interface or union value (`__typename`); nil for nodes that are not one.
    func objectType(of node: GraphNode) -> String? {
        switch node {
        case .discountApplication(let order, let index): return context.data.orders[order].discountApplications[index].kind.rawValue
        case .money: return "MoneyV2"
        case .percentage: return "PricingPercentageValue"
        default: return nil
        }
    }

    func gid(of node: GraphNode) -> String? {
        switch node {
        case .customer(let position): return context.data.customers[position].gid
        case .order(let position): return context.data.orders[position].gid
        case .product(let position): return context.data.products[position].gid
        case .variant(let location): return context.data.products[location.product].variants[location.variant].gid
        case .lineItem(let order, let line): return context.data.orders[order].lineItems[line].gid
        default: return nil
        }
    }

    // MARK: Root

    private mutating func resolveQueryRoot(_ field: PlannedField) throws -> Resolved {
        let data = context.data
        switch field.name {
        case "shop": return .node(.shop)
        case "currentAppInstallation": return .node(.appInstallation)
        case "customers":
            let filter = compileSearch(field, fields: customerSearchFields, defaultText: customerText)
            return .node(.connection(try page(field, view: view(context.views.customers, field), filter: filter, include: filter.matches,
                                              node: GraphNode.customer)))
        case "orders":
            let filter = compileSearch(field, fields: orderSearchFields, defaultText: orderText)
            let context = self.context
            return .node(.connection(try page(field, view: view(context.views.orders, field), filter: filter,
                                              include: { context.isOrderVisible($0) && filter.matches($0) }, node: GraphNode.order)))
        case "products":
            let filter = compileSearch(field, fields: productSearchFields, defaultText: productText)
            return .node(.connection(try page(field, view: view(context.views.products, field), filter: filter, include: filter.matches,
                                              node: GraphNode.product)))
        case "productVariants":
            let filter = compileSearch(field, fields: variantSearchFields, defaultText: variantText)
            let locations = context.views.variantLocations
            return .node(.connection(try page(field, view: context.views.variants, include: filter.matches,
                                              node: { GraphNode.variant(locations[$0]) })))
        case "customer":
            return .node(try gidArgument(field, type: "Customer").flatMap(data.customerPosition(id:)).map(GraphNode.customer))
        case "order":
            let position = try gidArgument(field, type: "Order").flatMap(data.orderPosition(id:))
            return .node(position.flatMap { context.isOrderVisible($0) ? GraphNode.order($0) : nil })
        case "product":
            return .node(try gidArgument(field, type: "Product").flatMap(data.productPosition(id:)).map(GraphNode.product))
        case "productVariant":
            return .node(try gidArgument(field, type: "ProductVariant").flatMap(data.variantLocation(id:)).map(GraphNode.variant))
        case "customersCount":
            let filter = compileSearch(field, fields: customerSearchFields, defaultText: customerText)
            return .node(count(data.customers.count, limit: field.arguments["limit"], include: filter.matches))
        case "ordersCount":
            let filter = compileSearch(field, fields: orderSearchFields, defaultText: orderText)
            let context = self.context
            return .node(count(data.orders.count, limit: field.arguments["limit"], include: { context.isOrderVisible($0) && filter.matches($0) }))
        case "productsCount":
            let filter = compileSearch(field, fields: productSearchFields, defaultText: productText)
            return .node(count(data.products.count, limit: field.arguments["limit"], include: filter.matches))
        case "currentBulkOperation":
            let type = field.argument("type")?.stringValue ?? "QUERY"
            guard type == "QUERY" else { return .node(nil) }
            return .node(context.bulkOperations.last.map(GraphNode.bulkOperation))
        case "bulkOperation":
            let id = try gidArgument(field, type: "BulkOperation")
            return .node(context.bulkOperations.first { $0.id == id }.map(GraphNode.bulkOperation))
        default:
            return .leaf(.null)
        }
    }

    private func view(_ views: [String: SortedView], _ field: PlannedField) -> SortedView {
        let key = field.argument("sortKey")?.stringValue ?? "ID"
        return views[key] ?? views["ID"] ?? SortedView(count: 0) { _ in SortTuple(key: 0, id: 0) }
    }

    /// Parses `gid://shopify/{type}/{number}`; another type's gid is simply not found (null), garbage is an error.
    func gidArgument(_ field: PlannedField, type: String) throws -> Int64? {
        guard let text = field.argument("id")?.stringValue else { return nil }
        guard text.hasPrefix("gid://shopify/"), let slash = text.lastIndex(of: "/") else {
            throw FieldError(message: "Invalid global id '\(text)'", extensions: [("code", "argumentLiteralsIncompatible"), ("typeName", "CoercionError")])
        }
        let kind = text.dropFirst("gid://shopify/".count).prefix { $0 != "/" }
        let numberText = text[text.index(after: slash)...].prefix { $0 != "?" }
        guard let number = Int64(numberText) else {
            throw FieldError(message: "Invalid global id '\(text)'", extensions: [("code", "argumentLiteralsIncompatible"), ("typeName", "CoercionError")])
        }
        return kind == type ? number : nil
    }

    private func count(_ total: Int, limit: ShopifyJSON?, include: (Int) -> Bool) -> GraphNode {
        let cap = limit?.intValue.map { Int(max(0, $0)) }
        var matched = 0
        for position in 0..<total where include(position) {
            matched += 1
            if let cap, matched > cap { return .count(cap, exact: false) }
        }
        return .count(matched, exact: true)
    }

    // MARK: Connections

    /// Reads first/last/after/before/reverse and pages `view`; in bulk mode returns every match.
    mutating func page(_ field: PlannedField, view: SortedView, filter: SearchFilter? = nil, include: (Int) -> Bool,
                       node: (Int) -> GraphNode) throws -> ConnectionPage {
        let reverse = field.argument("reverse")?.boolValue ?? false
        // A date bound on the field the view is sorted by narrows the scan to a binary-searched range.
        let sortField: String? = switch field.argument("sortKey")?.stringValue {
        case "CREATED_AT": "created_at"
        case "UPDATED_AT": "updated_at"
        case "PROCESSED_AT": "processed_at"
        default: nil
        }
        let keyRange = sortField.flatMap { filter?.dateBounds[$0] }
        if bulkMode {
            let positions = view.all(reverse: reverse, keyRange: keyRange, include: include)
            return ConnectionPage(nodes: positions.map(node), cursors: [], hasNextPage: false, hasPreviousPage: false)
        }
        func cursor(_ name: String) throws -> SortTuple? {
            guard let text = field.argument(name)?.stringValue else { return nil }
            guard let tuple = ConnectionCursor.decode(text) else {
                throw FieldError(message: "Invalid cursor for current pagination sort.", extensions: [("code", "BAD_REQUEST")])
            }
            return tuple
        }
        let window = PageWindow(
            first: field.argument("first")?.intValue.map { Int($0) }, last: field.argument("last")?.intValue.map { Int($0) },
            after: try cursor("after"), before: try cursor("before"), reverse: reverse, keyRange: keyRange
        )
        let slice = view.page(window, include: include)
        return ConnectionPage(nodes: slice.positions.map(node), cursors: slice.tuples.map(ConnectionCursor.encode),
                              hasNextPage: slice.hasNextPage, hasPreviousPage: slice.hasPreviousPage)
    }

    /// Pages a small in-record list (line items, variants) ordered by position.
    mutating func pageList(_ field: PlannedField, ids: [Int64], node: (Int) -> GraphNode) throws -> ConnectionPage {
        let view = SortedView(count: ids.count) { SortTuple(key: Int64($0), id: ids[$0]) }
        return try page(field, view: view, include: { _ in true }, node: node)
    }

    private mutating func compileSearch(_ field: PlannedField, fields: [String: SearchField], defaultText: @escaping @Sendable (Int) -> [String]) -> SearchFilter {
        let query = field.argument("query")?.stringValue
        let filter = SearchFilter.compile(query, fields: fields, defaultText: defaultText)
        if !filter.warnings.isEmpty, let query {
            searchWarnings.append(["path": .array(path), "query": .string(query), "warnings": .array(filter.warnings)])
        }
        return filter
    }

    // MARK: Shop

    private func resolveShop(_ field: PlannedField) -> Resolved {
        let shop = context.shop
        switch field.name {
        case "id": return .leaf("gid://shopify/Shop/\(ShopifyDataGenerator.shopNumericId)")
        case "name": return .leaf(.string(shop.name))
        case "email", "contactEmail": return .leaf(.string(shop.email))
        case "myshopifyDomain": return .leaf(.string(shop.domain))
        case "currencyCode": return .leaf(.string(shop.currencyCode))
        case "ianaTimezone": return .leaf(.string(shop.ianaTimezone))
        case "url": return .leaf(.string("https://\(shop.domain)"))
        case "taxesIncluded": return .leaf(true)
        case "enabledPresentmentCurrencies": return .leaf([.string(shop.currencyCode)])
        case "primaryDomain": return .node(.domain)
        default: return .leaf(.null)
        }
    }

    // MARK: Customer

    private mutating func resolveCustomer(_ field: PlannedField, _ position: Int) throws -> Resolved {
        let customer = context.data.customers[position]
        switch field.name {
        case "id": return .leaf(.string(customer.gid))
        case "legacyResourceId": return .leaf(.string(String(customer.id)))
        case "firstName": return .leaf(.from(customer.firstName))
        case "lastName": return .leaf(.from(customer.lastName))
        case "displayName": return .leaf(.string(customer.displayName))
        case "email": return .leaf(.from(customer.email))
        case "phone": return .leaf(.from(customer.phone))
        case "tags": return .leaf(.array(customer.tags.sorted().map(ShopifyJSON.string)))
        case "note": return .leaf(.null)
        case "state": return .leaf(customer.numberOfOrders > 0 ? "ENABLED" : "DISABLED")
        case "verifiedEmail": return .leaf(.bool(customer.email != nil))
        case "locale": return .leaf("de")
        case "taxExempt": return .leaf(false)
        case "createdAt": return .leaf(.string(ShopifyTime.format(customer.createdAt)))
        case "updatedAt": return .leaf(.string(ShopifyTime.format(customer.updatedAt)))
        case "numberOfOrders": return .leaf(.string(String(customer.numberOfOrders)))
        case "amountSpent": return .node(.money(customer.amountSpent))
        case "defaultAddress": return .node(customer.defaultAddress == nil ? nil : .address(customer: position))
        case "addresses":
            let limit = field.argument("first")?.intValue ?? Int64.max
            return .nodes(customer.defaultAddress == nil || limit <= 0 ? [] : [.address(customer: position)])
        case "defaultEmailAddress": return .node(customer.email == nil ? nil : .emailAddress(customer: position))
        case "defaultPhoneNumber": return .node(customer.phone == nil ? nil : .phoneNumber(customer: position))
        case "emailMarketingConsent": return .node(customer.emailMarketingState == nil ? nil : .emailConsent(customer: position))
        case "smsMarketingConsent": return .node(customer.smsMarketingState == nil ? nil : .smsConsent(customer: position))
        case "lastOrder":
            let order = customer.lastOrderId.flatMap(context.data.orderPosition(id:))
            return .node(order.flatMap { context.isOrderVisible($0) ? GraphNode.order($0) : nil })
        case "orders":
            let positions = context.data.ordersByCustomer[customer.id] ?? []
            let orders = context.data.orders
            let key = field.argument("sortKey")?.stringValue ?? "ID"
            let view = SortedView(count: positions.count) { index in
                let order = orders[positions[index]]
                let value: Int64 = switch key {
                case "CREATED_AT": ShopifyTime.epochSeconds(order.createdAt)
                case "PROCESSED_AT": ShopifyTime.epochSeconds(order.processedAt)
                case "UPDATED_AT": ShopifyTime.epochSeconds(order.updatedAt)
                default: order.id
                }
                return SortTuple(key: value, id: order.id)
            }
            let filter = compileSearch(field, fields: orderSearchFields, defaultText: orderText)
            let context = self.context
            return .node(.connection(try page(field, view: view, include: { context.isOrderVisible(positions[$0]) && filter.matches(positions[$0]) },
                                              node: { GraphNode.order(positions[$0]) })))
        default: return .leaf(.null)
        }
    }

    private func resolveAddress(_ field: PlannedField, _ position: Int) -> Resolved {
        let customer = context.data.customers[position]
        guard let address = customer.defaultAddress else { return .leaf(.null) }
        switch field.name {
        case "id": return .leaf(.string("gid://shopify/MailingAddress/\(customer.id &+ 17)?model_name=CustomerAddress"))
        case "address1": return .leaf(.string(address.address1))
        case "address2", "company": return .leaf(.null)
        case "city": return .leaf(.string(address.city))
        case "country": return .leaf(.string(address.country))
        case "countryCodeV2": return .leaf(.string(address.countryCodeV2))
        case "firstName": return .leaf(.from(customer.firstName))
        case "lastName": return .leaf(.from(customer.lastName))
        case "name": return .leaf(.string([customer.firstName, customer.lastName].compactMap { $0 }.joined(separator: " ")))
        case "phone": return .leaf(.from(customer.phone))
        case "province": return .leaf(.from(address.province))
        case "provinceCode": return .leaf(.from(address.provinceCode))
        case "zip": return .leaf(.string(address.zip))
        default: return .leaf(.null)
        }
    }

    /// The four consent shapes: `defaultEmailAddress`, `defaultPhoneNumber`, `emailMarketingConsent`, `smsMarketingConsent`.
    private func resolveConsent(_ field: PlannedField, node: GraphNode, customer: ShopifyCustomer) -> Resolved {
        let isSMS: Bool
        switch node {
        case .phoneNumber, .smsConsent: isSMS = true
        default: isSMS = false
        }
        // A phone without recorded SMS consent reads as NOT_SUBSCRIBED on `defaultPhoneNumber`.
        let state = (isSMS ? customer.smsMarketingState : customer.emailMarketingState) ?? .notSubscribed
        let optInLevel: ShopifyJSON = switch state {
        case .subscribed: "SINGLE_OPT_IN"
        case .pending: "CONFIRMED_OPT_IN"
        default: .null
        }
        let updatedAt: ShopifyJSON = state == .notSubscribed ? .null : .string(ShopifyTime.format(customer.createdAt))
        switch field.name {
        case "emailAddress": return .leaf(.from(customer.email))
        case "phoneNumber": return .leaf(.from(customer.phone))
        case "marketingState": return .leaf(.string(state.rawValue))
        case "marketingOptInLevel": return .leaf(optInLevel)
        case "marketingUpdatedAt", "consentUpdatedAt": return .leaf(updatedAt)
        case "marketingCollectedFrom", "consentCollectedFrom": return .leaf(state == .notSubscribed ? .null : "SHOPIFY")
        default: return .leaf(.null)
        }
    }

    // MARK: Order

    private mutating func resolveOrder(_ field: PlannedField, _ position: Int) throws -> Resolved {
        let order = context.data.orders[position]
        switch field.name {
        case "id": return .leaf(.string(order.gid))
        case "legacyResourceId": return .leaf(.string(String(order.id)))
        case "name": return .leaf(.string(order.name))
        case "createdAt": return .leaf(.string(ShopifyTime.format(order.createdAt)))
        case "updatedAt": return .leaf(.string(ShopifyTime.format(order.updatedAt)))
        case "processedAt": return .leaf(.string(ShopifyTime.format(order.processedAt)))
        case "cancelledAt": return .leaf(order.cancelledAt.map { .string(ShopifyTime.format($0)) } ?? .null)
        case "cancelReason": return .leaf(.from(order.cancelReason))
        case "closed": return .leaf(false)
        case "confirmed": return .leaf(true)
        case "email": return .leaf(.from(order.email))
        case "phone": return .leaf(.from(order.phone))
        case "note": return .leaf(.null)
        case "customer": return .node(order.customerId.flatMap(context.data.customerPosition(id:)).map(GraphNode.customer))
        case "currencyCode", "presentmentCurrencyCode": return .leaf(.string(order.currencyCode))
        case "taxesIncluded": return .leaf(true)
        case "subtotalPriceSet": return .node(.moneyBag(order.subtotalPrice))
        case "totalPriceSet": return .node(.moneyBag(order.totalPrice))
        case "totalDiscountsSet": return .node(.moneyBag(order.totalDiscounts))
        case "totalTaxSet": return .node(.moneyBag(order.totalTax))
        case "totalShippingPriceSet": return .node(.moneyBag(order.totalShippingPrice))
        case "currentTotalPriceSet", "currentSubtotalPriceSet":
            // Fully refunded or voided orders are worth nothing now.
            let refunded = order.displayFinancialStatus == "REFUNDED" || order.displayFinancialStatus == "VOIDED"
            let base = field.name == "currentTotalPriceSet" ? order.totalPrice : order.subtotalPrice
            return .node(.moneyBag(refunded ? ShopifyMoney(cents: 0, currencyCode: base.currencyCode) : base))
        case "subtotalLineItemsQuantity": return .leaf(.int(Int64(order.lineItems.reduce(0) { $0 + $1.quantity })))
        case "lineItems":
            return .node(.connection(try pageList(field, ids: order.lineItems.map(\.id)) { GraphNode.lineItem(order: position, line: $0) }))
        case "test": return .leaf(.bool(order.test))
        case "displayFinancialStatus": return .leaf(.string(order.displayFinancialStatus))
        case "displayFulfillmentStatus": return .leaf(.string(order.displayFulfillmentStatus))
        case "statusPageUrl": return .leaf(.string(order.statusPageUrl))
        case "tags": return .leaf(.array(order.tags.sorted().map(ShopifyJSON.string)))
        case "discountCodes": return .leaf(.array(order.discountCodes.map(ShopifyJSON.string)))
        case "discountCode": return .leaf(.from(order.discountCodes.first))
        case "sourceName": return .leaf(.string(order.sourceName))
        case "discountApplications":
            return .node(.connection(try pageList(field, ids: order.discountApplications.map { Int64($0.index) }) {
                GraphNode.discountApplication(order: position, index: $0)
            }))
        default: return .leaf(.null)
        }
    }

    private func resolveDiscountApplication(_ field: PlannedField, _ application: ShopifyDiscountApplication) -> Resolved {
        switch field.name {
        case "allocationMethod": return .leaf(.string(application.allocationMethod))
        case "index": return .leaf(.int(Int64(application.index)))
        case "targetSelection": return .leaf(.string(application.targetSelection))
        case "targetType": return .leaf(.string(application.targetType))
        case "code": return .leaf(.from(application.code))
        case "title": return .leaf(.from(application.title ?? application.code))
        case "description": return .leaf(.null)
        case "value":
            switch application.value {
            case .money(let money): return .node(.money(money))
            case .percentage(let value): return .node(.percentage(value))
            }
        default: return .leaf(.null)
        }
    }

    private func resolveLineItem(_ field: PlannedField, order position: Int, line index: Int) -> Resolved {
        let order = context.data.orders[position]
        let line = order.lineItems[index]
        switch field.name {
        case "id": return .leaf(.string(line.gid))
        case "title": return .leaf(.string(line.title))
        case "name": return .leaf(.string(line.variantTitle.map { "\(line.title) - \($0)" } ?? line.title))
        case "variantTitle": return .leaf(.from(line.variantTitle))
        case "sku": return .leaf(.from(line.sku))
        case "quantity": return .leaf(.int(Int64(line.quantity)))
        case "currentQuantity": return .leaf(.int(order.cancelledAt == nil ? Int64(line.quantity) : 0))
        case "vendor": return .leaf(.from(line.vendor))
        case "requiresShipping", "taxable": return .leaf(true)
        case "variant": return .node(line.variantId.flatMap(context.data.variantLocation(id:)).map(GraphNode.variant))
        case "product": return .node(line.productId.flatMap(context.data.productPosition(id:)).map(GraphNode.product))
        case "originalUnitPriceSet", "discountedUnitPriceSet": return .node(.moneyBag(line.unitPrice))
        case "originalTotalSet", "discountedTotalSet": return .node(.moneyBag(line.total))
        case "discountAllocations": return .nodes(line.discountAllocations.indices.map { GraphNode.discountAllocation(order: position, line: index, index: $0) })
        case "totalDiscountSet":
            return .node(.moneyBag(ShopifyMoney(cents: line.discountAllocations.reduce(0) { $0 + $1.amount.cents }, currencyCode: line.unitPrice.currencyCode)))
        default: return .leaf(.null)
        }
    }

    // MARK: Product

    private mutating func resolveProduct(_ field: PlannedField, _ position: Int) throws -> Resolved {
        let product = context.data.products[position]
        switch field.name {
        case "id": return .leaf(.string(product.gid))
        case "legacyResourceId": return .leaf(.string(String(product.id)))
        case "title": return .leaf(.string(product.title))
        case "handle": return .leaf(.string(product.handle))
        case "vendor": return .leaf(.string(product.vendor))
        case "productType": return .leaf(.string(product.productType))
        case "status": return .leaf(.string(product.status.rawValue))
        case "tags": return .leaf(.array(product.tags.sorted().map(ShopifyJSON.string)))
        case "description": return .leaf(.string("\(product.title) by \(product.vendor)."))
        case "descriptionHtml": return .leaf(.string("<p>\(Self.escapeHTML(product.title)) by \(Self.escapeHTML(product.vendor)).</p>"))
        case "createdAt": return .leaf(.string(ShopifyTime.format(product.createdAt)))
        case "updatedAt": return .leaf(.string(ShopifyTime.format(product.updatedAt)))
        case "publishedAt": return .leaf(product.publishedAt.map { .string(ShopifyTime.format($0)) } ?? .null)
        case "onlineStoreUrl": return .leaf(.from(product.onlineStoreUrl))
        case "totalInventory": return .leaf(.int(Int64(product.totalInventory)))
        case "tracksInventory": return .leaf(true)
        case "hasOnlyDefaultVariant": return .leaf(.bool(product.variants.count == 1 && product.variants.first?.title == "Default Title"))
        case "featuredImage":
            return .node(product.featuredImageURL.map { GraphNode.image(id: "gid://shopify/ProductImage/\(product.id &+ 3)", url: $0, altText: product.title) })
        case "options":
            let limit = Int(min(field.argument("first")?.intValue ?? Int64(product.options.count), Int64(product.options.count)))
            return .nodes((0..<max(0, limit)).map { GraphNode.productOption(product: position, index: $0) })
        case "variants":
            return .node(.connection(try pageList(field, ids: product.variants.map(\.id)) {
                GraphNode.variant(ShopifyDataSet.VariantLocation(product: position, variant: $0))
            }))
        case "variantsCount": return .node(.count(product.variants.count, exact: true))
        case "priceRangeV2": return .node(.priceRange(product: position))
        default: return .leaf(.null)
        }
    }

    private func resolveVariant(_ field: PlannedField, _ location: ShopifyDataSet.VariantLocation) -> Resolved {
        let product = context.data.products[location.product]
        let variant = product.variants[location.variant]
        switch field.name {
        case "id": return .leaf(.string(variant.gid))
        case "legacyResourceId": return .leaf(.string(String(variant.id)))
        case "title": return .leaf(.string(variant.title))
        case "displayName": return .leaf(.string("\(product.title) - \(variant.title)"))
        case "sku": return .leaf(.from(variant.sku))
        case "barcode": return .leaf(.null)
        case "price": return .leaf(.string(variant.price.amount))
        case "compareAtPrice": return .leaf(variant.compareAtPrice.map { .string($0.amount) } ?? .null)
        case "inventoryQuantity": return .leaf(.int(Int64(variant.inventoryQuantity)))
        case "availableForSale": return .leaf(.bool(product.status == .active && variant.inventoryQuantity > 0))
        case "position": return .leaf(.int(Int64(variant.position)))
        case "taxable": return .leaf(true)
        case "createdAt": return .leaf(.string(ShopifyTime.format(variant.createdAt)))
        case "updatedAt": return .leaf(.string(ShopifyTime.format(variant.updatedAt)))
        case "image":
            return .node(variant.imageURL.map { GraphNode.image(id: "gid://shopify/ProductImage/\(variant.id &+ 5)", url: $0, altText: nil) })
        case "selectedOptions": return .nodes(variant.selectedOptions.map(GraphNode.selectedOption))
        case "inventoryItem": return .node(.inventoryItem(location))
        case "product": return .node(.product(location.product))
        default: return .leaf(.null)
        }
    }

    private static func escapeHTML(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    // MARK: Bulk operation

    private func resolveBulkOperation(_ field: PlannedField, _ operation: ShopifyEmulatorBulkOperation) -> Resolved {
        switch field.name {
        case "id": return .leaf(.string(operation.gid))
        case "status": return .leaf(.string(operation.status.rawValue))
        case "errorCode": return .leaf(.from(operation.errorCode))
        case "createdAt": return .leaf(.string(ShopifyTime.format(operation.createdAt)))
        case "completedAt": return .leaf(operation.completedAt.map { .string(ShopifyTime.format($0)) } ?? .null)
        case "objectCount": return .leaf(.string(String(operation.objectCount)))
        case "rootObjectCount": return .leaf(.string(String(operation.rootObjectCount)))
        case "fileSize": return .leaf(operation.fileSize.map { .string(String($0)) } ?? .null)
        case "url": return .leaf(.from(operation.url))
        case "partialDataUrl": return .leaf(.from(operation.partialDataUrl))
        case "query": return .leaf(.string(operation.query))
        case "type": return .leaf("QUERY")
        default: return .leaf(.null)
        }
    }

    // MARK: Search fields

    private var customerSearchFields: [String: SearchField] {
        let customers = context.data.customers
        let times = context.views.customerTimes
        return [
            "created_at": .date { times.created[$0] },
            "updated_at": .date { times.updated[$0] },
            "id": .id { times.ids[$0] },
            "email": .text { customers[$0].email.map { [$0] } ?? [] },
            "phone": .text { customers[$0].phone.map { [$0] } ?? [] },
            "tag": .text { customers[$0].tags },
            "country": .text { customers[$0].defaultAddress.map { [$0.country, $0.countryCodeV2] } ?? [] },
            "orders_count": .id { Int64(customers[$0].numberOfOrders) },
        ]
    }

    private var customerText: @Sendable (Int) -> [String] {
        let customers = context.data.customers
        return { [customers[$0].firstName, customers[$0].lastName, customers[$0].email].compactMap { $0 } }
    }

    private var orderSearchFields: [String: SearchField] {
        let orders = context.data.orders
        let times = context.views.orderTimes
        return [
            "created_at": .date { times.created[$0] },
            "updated_at": .date { times.updated[$0] },
            "processed_at": .date { times.processed[$0] },
            "id": .id { times.ids[$0] },
            "customer_id": .id { orders[$0].customerId },
            "email": .text { orders[$0].email.map { [$0] } ?? [] },
            "name": .text { [orders[$0].name, String(orders[$0].name.dropFirst())] },
            "tag": .text { orders[$0].tags },
            "test": .bool { orders[$0].test },
            "financial_status": .text { [orders[$0].displayFinancialStatus] },
            "fulfillment_status": .text { [orders[$0].displayFulfillmentStatus] },
            "discount_code": .text { orders[$0].discountCodes },
            "status": .text { orders[$0].cancelledAt == nil ? ["open"] : ["cancelled"] },
        ]
    }

    private var orderText: @Sendable (Int) -> [String] {
        let orders = context.data.orders
        return { [orders[$0].name, orders[$0].email].compactMap { $0 } }
    }

    private var productSearchFields: [String: SearchField] {
        let products = context.data.products
        return [
            "created_at": .date { ShopifyTime.epochSeconds(products[$0].createdAt) },
            "updated_at": .date { ShopifyTime.epochSeconds(products[$0].updatedAt) },
            "published_at": .date { products[$0].publishedAt.map(ShopifyTime.epochSeconds) },
            "id": .id { products[$0].id },
            "status": .text { [products[$0].status.rawValue] },
            "vendor": .text { [products[$0].vendor] },
            "product_type": .text { [products[$0].productType] },
            "handle": .text { [products[$0].handle] },
            "title": .text { [products[$0].title] },
            "tag": .text { products[$0].tags },
            "sku": .text { products[$0].variants.compactMap(\.sku) },
        ]
    }

    private var productText: @Sendable (Int) -> [String] {
        let products = context.data.products
        return { [products[$0].title, products[$0].vendor, products[$0].productType] }
    }

    private var variantSearchFields: [String: SearchField] {
        let products = context.data.products
        let locations = context.views.variantLocations
        @Sendable func variant(_ index: Int) -> ShopifyVariant { products[locations[index].product].variants[locations[index].variant] }
        return [
            "created_at": .date { ShopifyTime.epochSeconds(variant($0).createdAt) },
            "updated_at": .date { ShopifyTime.epochSeconds(variant($0).updatedAt) },
            "id": .id { variant($0).id },
            "product_id": .id { variant($0).productId },
            "sku": .text { variant($0).sku.map { [$0] } ?? [] },
            "inventory_quantity": .id { Int64(variant($0).inventoryQuantity) },
            "product_status": .text { [products[locations[$0].product].status.rawValue] },
        ]
    }

    private var variantText: @Sendable (Int) -> [String] {
        let products = context.data.products
        let locations = context.views.variantLocations
        return { [products[locations[$0].product].title, products[locations[$0].product].variants[locations[$0].variant].title] }
    }
}
