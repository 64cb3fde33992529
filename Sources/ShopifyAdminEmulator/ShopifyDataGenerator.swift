import Foundation

/// Builds the fixture records from a seeded generator. Draw order is part of the contract: changing it changes
/// every data set, so new fields must draw after the existing ones (or from their own generator).
struct ShopifyDataGenerator {
    var random: SplitMix64
    let now: Date
    let shopDomain: String
    let currencyCode: String

    static let customerBaseId: Int64 = 7_364_562_091_234_567_890
    static let orderBaseId: Int64 = 5_987_654_321_098_765_432
    static let lineItemBaseId: Int64 = 1_234_567_890_123_456_789
    static let productBaseId: Int64 = 8_123_456_789_012_345_678
    static let variantBaseId: Int64 = 4_456_789_012_345_678_901
    static let inventoryItemBaseId: Int64 = 4_987_654_321_098_765_432
    static let shopNumericId: Int64 = 68_123_456_789
    static let day: TimeInterval = 86_400

    init(seed: UInt64, now: Date, shopDomain: String, currencyCode: String) {
        random = SplitMix64(seed: seed)
        // Whole seconds: Shopify's DateTime has no fractions, so generated times must round-trip exactly.
        self.now = Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down))
        self.shopDomain = shopDomain
        self.currencyCode = currencyCode
    }

    private func money(_ cents: Int64) -> ShopifyMoney { ShopifyMoney(cents: cents, currencyCode: currencyCode) }

    /// Creation instants spread uniformly over `span` seconds ending `endOffset` seconds before now, oldest first.
    private mutating func times(count: Int, span: TimeInterval, endOffset: TimeInterval = 0) -> [Date] {
        let end = now.timeIntervalSince1970 - endOffset
        let seconds = Int(span)
        return (0..<count).map { _ in end - Double(random.int(seconds)) - 1 }.sorted().map(Date.init(timeIntervalSince1970:))
    }

    // MARK: Products

    mutating func products(count: Int) -> [ShopifyProduct] {
        let created = times(count: count, span: 730 * Self.day, endOffset: Self.day)
        var handles = Set<String>()
        var variantSerial: Int64 = 0
        var products: [ShopifyProduct] = []
        products.reserveCapacity(count)
        for index in 0..<count {
            let noun = random.pick(Names.productNouns)
            let title = index % 40 == 17 ? Names.specialTitles[(index / 40) % Names.specialTitles.count]
                : "\(random.pick(Names.productAdjectives)) \(noun.name)"
            var handle = Names.slug(title)
            if handles.contains(handle) {
                var suffix = 1
                while handles.contains("\(handle)-\(suffix)") { suffix += 1 }
                handle = "\(handle)-\(suffix)"
            }
            handles.insert(handle)
            let roll = random.unit()
            let status: ShopifyProductStatus = roll < 0.85 ? .active : roll < 0.95 ? .draft : .archived
            let createdAt = created[index]
            let updatedAt = min(now, createdAt.addingTimeInterval(Double(random.int(Int(120 * Self.day)))))
            let vendor = random.pick(Names.vendors)
            let basePrice = random.pick(Names.prices)
            let variantCount = random.int(in: 1...4)
            let options: [ShopifyProductOption]
            let values: [String]
            if variantCount == 1 {
                values = ["Default Title"]
                options = [ShopifyProductOption(name: "Title", values: values)]
            } else if noun.sized {
                let start = random.int(Names.sizes.count - variantCount + 1)
                values = Array(Names.sizes[start..<start + variantCount])
                options = [ShopifyProductOption(name: "Size", values: values)]
            } else {
                let start = random.int(Names.colors.count - variantCount + 1)
                values = Array(Names.colors[start..<start + variantCount])
                options = [ShopifyProductOption(name: "Color", values: values)]
            }
            let id = Self.productBaseId + Int64(index) * 257
            let imageBase = "https://cdn.shopify.com/s/files/1/0600/1234/5678/files/"
            let featured: String? = random.chance(0.95) ? "\(imageBase)\(handle).jpg?v=1700000000" : nil
            let skuPrefix = String(vendor.prefix(2)).uppercased()
            var variants: [ShopifyVariant] = []
            for (position, value) in values.enumerated() {
                let skuRoll = random.unit()
                let skuCore = String(format: "%04d", index)
                let sku: String? = skuRoll < 0.04 ? nil
                    : skuRoll < 0.07 ? "\(skuPrefix).\(skuCore)/\(value.prefix(3))"
                    : "\(skuPrefix)-\(skuCore)-\(value.prefix(3).uppercased().replacingOccurrences(of: " ", with: ""))"
                let price = basePrice + (value == "XL" || value == "XXL" ? 200 : 0)
                let compareAt: Int64? = random.chance(0.25) ? (price * 5 / 4 + 50) / 100 * 100 - 10 : nil
                let stockRoll = random.unit()
                let stock = stockRoll < 0.15 ? 0 : stockRoll < 0.17 ? -random.int(in: 1...3) : random.int(in: 1...120)
                let image: String? = random.chance(0.7) ? "\(imageBase)\(handle)-\(position + 1).jpg?v=1700000000" : nil
                variants.append(ShopifyVariant(
                    id: Self.variantBaseId + variantSerial * 61,
                    productId: id,
                    title: value,
                    sku: sku,
                    price: money(price),
                    compareAtPrice: compareAt.map(money),
                    inventoryQuantity: stock,
                    imageURL: image,
                    selectedOptions: [ShopifySelectedOption(name: options[0].name, value: value)],
                    inventoryItemId: Self.inventoryItemBaseId + variantSerial * 67,
                    position: position + 1,
                    createdAt: createdAt,
                    updatedAt: updatedAt
                ))
                variantSerial += 1
            }
            var tags: [String] = []
            if random.chance(0.3) { tags.append(random.pick(Names.productTags)) }
            products.append(ShopifyProduct(
                id: id, title: title, handle: handle, vendor: vendor, productType: noun.type, status: status, tags: tags,
                createdAt: createdAt, updatedAt: updatedAt,
                publishedAt: status == .active ? createdAt.addingTimeInterval(3600) : nil,
                onlineStoreUrl: status == .active ? "https://\(shopDomain)/products/\(handle)" : nil,
                featuredImageURL: featured, options: options, variants: variants
            ))
        }
        return products
    }

    // MARK: Customers

    mutating func customers(count: Int) -> [ShopifyCustomer] {
        // Three years of sign-ups, so most customers predate the 180 days of orders.
        let created = times(count: count, span: 1095 * Self.day, endOffset: 3600)
        var customers: [ShopifyCustomer] = []
        customers.reserveCapacity(count)
        for index in 0..<count {
            let firstIndex = random.int(Names.firstNames.count)
            let lastIndex = random.int(Names.lastNames.count)
            let first = Names.firstNames[firstIndex], last = Names.lastNames[lastIndex]
            let local = "\(Names.emailFirstNames[firstIndex]).\(Names.emailLastNames[lastIndex]).\(index + 1)"
            let hasNames = random.chance(0.98)
            let domain = random.pick(Names.emailDomains)
            // The index makes every address unique; some are stored with capitals, as shoppers type them.
            var email: String? = "\(local)@\(domain)".lowercased()
            if random.chance(0.06) { email = "\(local)@\(domain.prefix(1).uppercased())\(domain.dropFirst())" }
            let phoneOnly = random.chance(0.01)
            if phoneOnly { email = nil }
            let phone: String? = phoneOnly || random.chance(0.65) ? "+49151\(String(10_000_000 + index * 37))" : nil
            let emailState: ShopifyMarketingState? = email == nil ? nil : {
                let roll = random.unit()
                return roll < 0.45 ? .subscribed : roll < 0.80 ? .notSubscribed : roll < 0.92 ? .unsubscribed : roll < 0.97 ? .pending : .invalid
            }()
            let smsState: ShopifyMarketingState? = phone == nil || random.chance(0.2) ? nil : {
                let roll = random.unit()
                return roll < 0.3 ? .subscribed : roll < 0.9 ? .notSubscribed : .unsubscribed
            }()
            let place = random.pick(Names.places)
            let address: ShopifyAddress? = random.chance(0.95) ? ShopifyAddress(
                address1: "\(random.pick(Names.streets)) \(random.int(in: 1...180))",
                city: place.city, province: place.province, provinceCode: place.provinceCode,
                zip: place.zip, country: place.country, countryCodeV2: place.countryCode
            ) : nil
            var tags: [String] = []
            for tag in Names.customerTags where random.chance(0.12) { tags.append(tag) }
            let createdAt = created[index]
            customers.append(ShopifyCustomer(
                id: Self.customerBaseId + Int64(index) * 1_031,
                firstName: hasNames ? first : nil,
                lastName: hasNames ? last : nil,
                email: email, phone: phone, tags: tags,
                createdAt: createdAt,
                updatedAt: min(now, createdAt.addingTimeInterval(Double(random.int(Int(30 * Self.day))))),
                defaultAddress: address,
                emailMarketingState: emailState, smsMarketingState: smsState,
                numberOfOrders: 0, amountSpent: money(0), lastOrderId: nil
            ))
        }
        return customers
    }

    // MARK: Orders

    mutating func orders(count: Int, customers: inout [ShopifyCustomer], products: [ShopifyProduct]) -> [ShopifyOrder] {
        let created = times(count: count, span: 180 * Self.day)
        let sellable = products.filter { $0.status != .draft && !$0.variants.isEmpty }
        let catalog = sellable.isEmpty ? products.filter { !$0.variants.isEmpty } : sellable
        let customerCreated = customers.map(\.createdAt)
        var orders: [ShopifyOrder] = []
        orders.reserveCapacity(count)
        var lineSerial: Int64 = 0
        for index in 0..<count {
            let createdAt = created[index]
            let id = Self.orderBaseId + Int64(index) * 4_099
            // A customer who existed when the order was placed; about 3% are guest checkouts.
            var customerPosition: Int? = nil
            if !random.chance(0.03) {
                let eligible = Self.countBefore(customerCreated, createdAt)
                if eligible > 0 { customerPosition = random.int(eligible) }
            }
            var lines: [ShopifyLineItem] = []
            if !catalog.isEmpty {
                let roll = random.unit()
                let lineCount = roll < 0.5 ? 1 : roll < 0.8 ? 2 : roll < 0.95 ? 3 : 4
                var used = Set<Int64>()
                for _ in 0..<lineCount {
                    let product = random.pick(catalog)
                    let variant = random.pick(product.variants)
                    guard used.insert(variant.id).inserted else { continue }
                    let quantityRoll = random.unit()
                    lines.append(ShopifyLineItem(
                        id: Self.lineItemBaseId + lineSerial * 37,
                        title: product.title,
                        variantTitle: variant.title == "Default Title" ? nil : variant.title,
                        sku: variant.sku,
                        quantity: quantityRoll < 0.7 ? 1 : quantityRoll < 0.9 ? 2 : 3,
                        variantId: variant.id, productId: product.id,
                        unitPrice: variant.price, vendor: product.vendor
                    ))
                    lineSerial += 1
                }
            }
            let lineTotal = lines.reduce(Int64(0)) { $0 + $1.total.cents }
            var discountCodes: [String] = []
            var discount: Int64 = 0
            var applications: [ShopifyDiscountApplication] = []
            if random.chance(0.2) {
                let code = random.pick(Names.discountCodes)
                discountCodes = [code.code]
                discount = (lineTotal * code.percent + 50) / 100
                // A percentage code over the whole order: one application, its amount allocated across the lines.
                applications = [ShopifyDiscountApplication(kind: .discountCode, index: 0, code: code.code, value: .percentage(Double(code.percent)),
                                                           allocationMethod: "ACROSS", targetSelection: "ALL", targetType: "LINE_ITEM")]
                Self.allocate(discount, application: 0, over: &lines)
            }
            let subtotal = lineTotal - discount
            let shipping: Int64 = subtotal >= 5_000 ? 0 : 490
            let total = subtotal + shipping
            let tax = (total * 19 + 59) / 119
            let cancelled = random.chance(0.04)
            let cancelledAt = cancelled ? min(now, createdAt.addingTimeInterval(Double(random.int(in: 1...72)) * 3600)) : nil
            let financial: String
            if cancelled {
                financial = random.chance(0.7) ? "REFUNDED" : "VOIDED"
            } else {
                let roll = random.unit()
                financial = roll < 0.90 ? "PAID" : roll < 0.94 ? "PENDING" : roll < 0.97 ? "PARTIALLY_REFUNDED" : roll < 0.99 ? "REFUNDED" : "AUTHORIZED"
            }
            let fulfillment: String
            if cancelled || now.timeIntervalSince(createdAt) < 2 * Self.day {
                fulfillment = "UNFULFILLED"
            } else {
                let roll = random.unit()
                fulfillment = roll < 0.95 ? "FULFILLED" : roll < 0.97 ? "PARTIALLY_FULFILLED" : "UNFULFILLED"
            }
            var updatedAt = min(now, createdAt.addingTimeInterval(Double(random.int(Int(5 * Self.day)))))
            if let cancelledAt, cancelledAt > updatedAt { updatedAt = cancelledAt }
            let test = random.chance(0.01)
            var tags: [String] = []
            if random.chance(0.1) { tags.append("gift") }
            if random.chance(0.05) { tags.append("wholesale") }
            let token = String(random.next(), radix: 16) + String(random.next(), radix: 16)
            let key = String(random.next(), radix: 16)
            let customerId = customerPosition.map { customers[$0].id }
            let email = customerPosition.flatMap { customers[$0].email } ?? (customerPosition == nil ? "guest.\(index + 1)@example.net" : nil)
            let order = ShopifyOrder(
                id: id, name: "#\(1001 + index)",
                createdAt: createdAt, processedAt: createdAt, updatedAt: updatedAt,
                cancelledAt: cancelledAt, cancelReason: cancelled ? random.pick(["CUSTOMER", "INVENTORY", "DECLINED", "FRAUD", "OTHER"]) : nil,
                email: email, phone: customerPosition.flatMap { customers[$0].phone },
                customerId: customerId, currencyCode: currencyCode,
                subtotalPrice: money(subtotal), totalDiscounts: money(discount), totalTax: money(tax),
                totalShippingPrice: money(shipping), totalPrice: money(total),
                lineItems: lines, test: test,
                displayFinancialStatus: financial, displayFulfillmentStatus: fulfillment,
                statusPageUrl: "https://\(shopDomain)/\(Self.shopNumericId)/orders/\(token)/authenticate?key=\(key)",
                tags: tags, discountCodes: discountCodes, sourceName: "web", discountApplications: applications
            )
            if let position = customerPosition {
                // Counts every order of the customer: test, cancelled and old ones included (documented).
                customers[position].numberOfOrders += 1
                customers[position].amountSpent.cents += total
                customers[position].lastOrderId = id
                if createdAt > customers[position].updatedAt { customers[position].updatedAt = updatedAt }
            }
            orders.append(order)
        }
        return orders
    }

    /// Splits `amount` (cents) over the lines in proportion to their totals, the rounding remainder on the last line, so the
    /// allocations add up to the amount exactly (no draws: the data set's draw order is unchanged).
    static func allocate(_ amount: Int64, application: Int, over lines: inout [ShopifyLineItem]) {
        let total = lines.reduce(Int64(0)) { $0 + $1.total.cents }
        guard !lines.isEmpty, total > 0 else { return }
        var given: Int64 = 0
        for index in lines.indices {
            let share = index == lines.count - 1 ? amount - given : amount * lines[index].total.cents / total
            given += share
            lines[index].discountAllocations.append(ShopifyDiscountAllocation(applicationIndex: application,
                                                                              amount: ShopifyMoney(cents: share, currencyCode: lines[index].unitPrice.currencyCode)))
        }
    }

    /// How many of the ascending `dates` are before `date` (binary search).
    static func countBefore(_ dates: [Date], _ date: Date) -> Int {
        var low = 0, high = dates.count
        while low < high {
            let mid = (low + high) / 2
            if dates[mid] < date { low = mid + 1 } else { high = mid }
        }
        return low
    }
}
