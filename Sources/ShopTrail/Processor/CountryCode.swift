import Foundation

/// ISO 3166-1 alpha-2 codes for the country values Shopify sends. Braze stores `country` best effort
/// (a value it cannot map becomes null), so ShopTrail sends codes: the address's code when it has one,
/// else the code of its English country name, else nothing at all.
enum CountryCode {
    /// The alpha-2 code for a Shopify address; nil when neither the code nor the name is a known country.
    static func alpha2(code: String?, name: String?) -> String? {
        for candidate in [code, name] {
            if let candidate, let found = lookup(candidate) { return found }
        }
        return nil
    }

    /// A code ("ca", "CA") or an English name ("Canada", "Czech Republic") as its alpha-2 code.
    static func lookup(_ value: String) -> String? {
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 100 else { return nil }
        if trimmed.utf8.count == 2 {
            let code = trimmed.uppercased()
            return codes.contains(code) ? code : nil
        }
        return byName[normalized(trimmed)]
    }

    /// Case, accents, apostrophes, punctuation and a leading "the" do not matter.
    static func normalized(_ name: String) -> String {
        let folded = name.folding(options: [.caseInsensitive, .diacriticInsensitive], locale: Locale(identifier: "en_US_POSIX"))
        let words = folded.unicodeScalars.map { CharacterSet.alphanumerics.contains($0) ? Character($0) : " " }
        var parts = String(words).split(separator: " ").map(String.init)
        if parts.first == "the" { parts.removeFirst() }
        return parts.joined(separator: " ")
    }

    /// Regions Foundation knows that are not countries of ISO 3166-1 (European Union, Eurozone, UN, unknown, pseudo).
    private static let notCountries: Set<String> = ["EU", "EZ", "UN", "QO", "ZZ", "XA", "XB"]

    /// Every alpha-2 country code Foundation (ICU) knows.
    static let codes: Set<String> = Set(Locale.Region.isoRegions.map(\.identifier).filter { id in
        id.utf8.count == 2 && id.utf8.allSatisfy { $0 >= 65 && $0 <= 90 } && !notCountries.contains(id)
    })

    /// Names Shopify or older lists use that differ from ICU's English names.
    private static let aliases: [String: String] = [
        "United States of America": "US", "USA": "US", "UK": "GB", "Great Britain": "GB", "Czech Republic": "CZ",
        "Republic of Korea": "KR", "Korea, Republic of": "KR", "Korea": "KR", "Russian Federation": "RU", "Turkey": "TR",
        "Ivory Coast": "CI", "Macau": "MO", "Macao SAR China": "MO", "Hong Kong SAR China": "HK", "Viet Nam": "VN",
        "Holland": "NL", "Swaziland": "SZ", "Burma": "MM", "Myanmar": "MM", "Cape Verde": "CV", "East Timor": "TL",
        "Macedonia": "MK", "Republic of North Macedonia": "MK", "Congo": "CG", "Republic of the Congo": "CG",
        "Democratic Republic of the Congo": "CD", "Congo, The Democratic Republic Of The": "CD", "Vatican City": "VA",
        "Holy See": "VA", "Palestinian Territories": "PS", "Palestine": "PS", "Laos": "LA", "Lao People's Democratic Republic": "LA",
        "Syria": "SY", "Iran": "IR", "Moldova, Republic of": "MD", "Tanzania": "TZ", "Bolivia": "BO", "Venezuela": "VE",
        "Brunei Darussalam": "BN", "Saint Martin": "MF", "Sint Maarten": "SX", "Curacao": "CW", "Reunion": "RE",
        "Faroe Islands": "FO", "Falkland Islands (Malvinas)": "FK", "Aland Islands": "AX", "Kosovo": "XK",
    ]

    /// Normalised English names (ICU's, plus the aliases) → code.
    static let byName: [String: String] = {
        let english = Locale(identifier: "en_US")
        var table: [String: String] = [:]
        for code in codes {
            if let name = english.localizedString(forRegionCode: code) { table[normalized(name)] = code }
        }
        for (name, code) in aliases { table[normalized(name)] = code }
        return table
    }()
}
