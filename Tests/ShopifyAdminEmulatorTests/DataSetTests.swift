import Foundation
import Testing
@testable import ShopifyAdminEmulator

@Suite struct DataSetTests {
    static let full = ShopifyDataSet.generate(seed: 42, now: fixedNow)

    @Test func sameSeedSameShopOtherSeedOtherShop() {
        let a = ShopifyDataSet.generate(seed: 7, customers: 200, orders: 800, products: 30, now: fixedNow)
        let b = ShopifyDataSet.generate(seed: 7, customers: 200, orders: 800, products: 30, now: fixedNow)
        let c = ShopifyDataSet.generate(seed: 8, customers: 200, orders: 800, products: 30, now: fixedNow)
        #expect(a.customers == b.customers)
        #expect(a.orders == b.orders)
        #expect(a.products == b.products)
        #expect(a.orders != c.orders)
        #expect(a.customers.map(\.email) != c.customers.map(\.email))
    }

    @Test func fullFixtureGeneratesFast() {
        let started = ContinuousClock.now
        let data = ShopifyDataSet.generate(seed: 99, now: fixedNow)
        let elapsed = ContinuousClock.now - started
        print("generated 5,000 customers, 20,000 orders, 200 products in \(elapsed)")
        #expect(data.orders.count == 20_000)
        // The time is printed, never asserted: the machine is shared and a loaded one failed a 3 s bound.
    }

    @Test func idsAreBeyondDoublePrecisionAndUnique() {
        let data = Self.full
        let variants = data.allVariants
        #expect(data.customers.count == 5_000 && data.products.count == 200)
        for ids in [data.customers.map(\.id), data.orders.map(\.id), data.products.map(\.id), variants.map(\.id),
                    variants.map(\.inventoryItemId), data.orders.flatMap(\.lineItems).map(\.id)] {
            #expect(ids.allSatisfy { $0 > 1 << 53 })
            #expect(Set(ids).count == ids.count)
            #expect(ids == ids.sorted())
        }
        #expect(Set(variants.map(\.id)).isDisjoint(with: variants.map(\.inventoryItemId)))
        #expect(data.orders.first?.name == "#1001" && data.orders.last?.name == "#21000")
    }

    @Test func customersLookLikeAShopsCustomers() {
        let data = Self.full
        let emails = data.customers.compactMap(\.email)
        #expect(Set(emails.map { $0.lowercased() }).count == emails.count)
        let mixed = emails.filter { $0 != $0.lowercased() }.count
        #expect(mixed > 100 && mixed < emails.count / 5)
        #expect(data.customers.contains { $0.email == nil })
        #expect(data.customers.contains { $0.phone == nil } && data.customers.contains { $0.phone != nil })
        #expect(Set(data.customers.compactMap(\.emailMarketingState)) == Set(ShopifyMarketingState.allCases))
        #expect(data.customers.allSatisfy { ($0.email == nil) == ($0.emailMarketingState == nil) })
        #expect(data.customers.contains { $0.phone != nil && $0.smsMarketingState == nil })
        #expect(data.customers.allSatisfy { $0.phone != nil || $0.smsMarketingState == nil })
        // numberOfOrders / amountSpent: every order of the customer, test and cancelled included.
        var counts: [Int64: (Int, Int64)] = [:]
        for order in data.orders { if let id = order.customerId { counts[id, default: (0, 0)].0 += 1; counts[id, default: (0, 0)].1 += order.totalPrice.cents } }
        #expect(data.customers.allSatisfy { ($0.numberOfOrders, $0.amountSpent.cents) == (counts[$0.id] ?? (0, 0)) })
        #expect(data.customers.allSatisfy { $0.updatedAt >= $0.createdAt && $0.updatedAt <= fixedNow })
    }

    @Test func ordersSpreadOver180DaysWithGuestsTestsAndCancellations() {
        let data = Self.full
        let oldest = fixedNow.addingTimeInterval(-180 * 86_400)
        #expect(data.orders.allSatisfy { $0.createdAt >= oldest && $0.createdAt < fixedNow })
        let within60 = data.orders.filter { $0.createdAt >= fixedNow.addingTimeInterval(-60 * 86_400) }.count
        #expect(abs(within60 - 20_000 / 3) < 400)
        let guests = data.orders.filter { $0.customerId == nil }.count
        #expect(guests > 400 && guests < 900)
        #expect(data.orders.filter(\.test).count > 100)
        #expect(data.orders.filter { $0.cancelledAt != nil }.count > 500)
        #expect(data.orders.allSatisfy { (1...4).contains($0.lineItems.count) })
        #expect(data.orders.allSatisfy { $0.totalPrice.cents == $0.subtotalPrice.cents + $0.totalShippingPrice.cents })
        #expect(data.orders.allSatisfy {
            $0.subtotalPrice.cents == $0.lineItems.reduce(0) { $0 + $1.total.cents } - $0.totalDiscounts.cents
        })
        // Orders reference customers who existed when they ordered.
        #expect(data.orders.allSatisfy { order in order.customerId.flatMap(data.customer(id:)).map { $0.createdAt < order.createdAt } ?? true })
    }

    @Test func productsHaveWhatTheBrazeCatalogNeeds() {
        let data = Self.full
        #expect(Set(data.products.map(\.handle)).count == data.products.count)
        #expect(data.products.allSatisfy { (1...4).contains($0.variants.count) })
        #expect(Set(data.products.map(\.status)) == Set(ShopifyProductStatus.allCases))
        #expect(data.products.allSatisfy { ($0.status == .active) == ($0.onlineStoreUrl == "https://fixture-shop.myshopify.com/products/\($0.handle)") })
        #expect(data.products.allSatisfy { $0.status == .active || $0.onlineStoreUrl == nil })
        let variants = data.allVariants
        #expect(variants.contains { $0.sku == nil } && variants.contains { $0.compareAtPrice == nil } && variants.contains { $0.compareAtPrice != nil })
        #expect(variants.contains { $0.inventoryQuantity == 0 } && variants.contains { $0.imageURL == nil })
        #expect(data.products.contains { $0.handle == "cafe-creme-mug" })
        #expect(variants.allSatisfy { $0.selectedOptions.count == 1 })
    }
}
