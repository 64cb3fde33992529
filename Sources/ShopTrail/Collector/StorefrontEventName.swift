/// The event names the collector accepts from the storefront tracker and the Custom Pixel.
///
/// They follow Shopify's Web Pixels standard event names where one exists, so that the snippet
/// and the pixel speak one vocabulary; the rest are ShopTrail's own.
public enum StorefrontEventName: String, CaseIterable, Sendable {
    case pageViewed = "page_viewed"
    case productViewed = "product_viewed"
    case collectionViewed = "collection_viewed"
    case searchSubmitted = "search_submitted"
    case cartViewed = "cart_viewed"
    case productAddedToCart = "product_added_to_cart"
    case productRemovedFromCart = "product_removed_from_cart"
    /// The whole cart after any change (what Braze's `ecommerce.cart_updated` needs).
    case cartUpdated = "cart_updated"
    case checkoutStarted = "checkout_started"
    case checkoutContactInfoSubmitted = "checkout_contact_info_submitted"
    case checkoutAddressInfoSubmitted = "checkout_address_info_submitted"
    case checkoutShippingInfoSubmitted = "checkout_shipping_info_submitted"
    case paymentInfoSubmitted = "payment_info_submitted"
    case checkoutCompleted = "checkout_completed"
    /// The page knows a (signed) logged-in customer.
    case customerIdentified = "customer_identified"
    /// The visitor logged out; the tracker starts a new visitor id after sending it.
    case customerLoggedOut = "customer_logged_out"
    /// The visitor's consent choice changed.
    case consentUpdated = "consent_updated"

    /// All accepted names, comma separated, for error messages and docs.
    public static let list: String = allCases.map(\.rawValue).joined(separator: ", ")
}
