import Testing
@testable import ShopTrail

/// `ecommerce.cart_updated` names the cart as every other path keys it: without Shopify's `?key=…`.
@Suite struct EcommerceMapperTests {
    @Test func cartIdDropsTheAjaxKeySuffix() throws {
        let mapper = EcommerceMapper(naming: .ecommerce, source: "https://demo.myshopify.com", shopDomain: "demo.myshopify.com")
        let cart = try JSONParser.parse(Array(#"""
            {"cart_token":"c1-abc?key=0123456789abcdef","currency":"EUR","total_price":25,
             "items":[{"product_id":1,"variant_id":11,"quantity":1,"price":25,"product_title":"Beanie"}]}
            """#.utf8))
        let object = try #require(cart.objectValue)
        let mapped = try #require(mapper.cartUpdated(object))
        #expect(mapped.properties["cart_id"]?.stringValue == "c1-abc")
        let parsed = try JSONParser.parse(Array(#"{"cart_token":"?key=1","currency":"EUR","items":[]}"#.utf8))
        let empty = try #require(parsed.objectValue)
        #expect(mapper.cartUpdated(empty) == nil)
    }
}
