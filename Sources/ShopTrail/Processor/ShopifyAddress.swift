/// A customer's default address, from a webhook (REST names) or the Admin API (GraphQL names), as
/// the profile attributes Braze's Shopify connector writes: `home_city`, `country` (ISO alpha-2),
/// `shopify_zipcode` and `shopify_province`. The one place both paths turn an address into attributes.
struct ShopifyAddress: Sendable, Equatable {
    var city: String?
    /// ISO 3166-1 alpha-2, mapped from the name when the payload has no usable code.
    var countryCode: String?
    var zip: String?
    var province: String?

    /// A REST `default_address` (`city`, `country_code`, `country`, `country_name`, `zip`, `province`).
    init?(rest address: JSONObject?) {
        guard let address else { return nil }
        self.init(city: Self.text(address["city"]),
                  countryCode: CountryCode.alpha2(code: Self.text(address["country_code"]),
                                                  name: Self.text(address["country"]) ?? Self.text(address["country_name"])),
                  zip: Self.text(address["zip"]), province: Self.text(address["province"]))
    }

    /// A GraphQL `MailingAddress` (`city`, `countryCodeV2`, `country`, `zip`, `province`).
    init?(graphQL address: JSONObject?) {
        guard let address else { return nil }
        self.init(city: Self.text(address["city"]),
                  countryCode: CountryCode.alpha2(code: Self.text(address["countryCodeV2"]), name: Self.text(address["country"])),
                  zip: Self.text(address["zip"]), province: Self.text(address["province"]))
    }

    init(city: String?, countryCode: String?, zip: String?, province: String?) {
        self.city = city
        self.countryCode = countryCode
        self.zip = zip
        self.province = province
    }

    /// The attributes this address sets; a missing part sets nothing (Braze keeps what it had).
    var attributes: [(String, JSONValue)] {
        [("home_city", city), ("country", countryCode), ("shopify_zipcode", zip), ("shopify_province", province)]
            .compactMap { key, value in value.map { (key, .string(String($0.prefix(255)))) } }
    }

    private static func text(_ value: JSONValue?) -> String? {
        value?.stringValue.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
    }
}
