import Foundation

/// Word lists the generator draws from. Reordering or editing them changes every generated data set.
enum Names {
    static let firstNames = [
        "Anna", "Ben", "Clara", "David", "Emma", "Felix", "Greta", "Hannah", "Ida", "Jonas", "Karl", "Lena", "Mia",
        "Noah", "Olivia", "Paul", "Quentin", "Rosa", "Sophie", "Tim", "Ulla", "Vera", "Wim", "Xenia", "Yusuf", "Zoe",
        "Léa", "Jürgen", "Siobhán", "Åsa", "Chloé", "Mateo", "Aiko", "Omar", "Priya", "Lukas",
    ]
    static let lastNames = [
        "Schmidt", "Müller", "Meyer", "Fischer", "Weber", "Wagner", "Becker", "Hoffmann", "Koch", "Richter", "Klein",
        "Wolf", "Neumann", "Schwarz", "Braun", "Zimmermann", "Krüger", "Hartmann", "Lange", "Werner", "Jansen",
        "de Vries", "Dubois", "Martin", "O'Brien", "Smith", "Rossi", "García", "Nowak", "Larsen", "Yilmaz", "Novak",
    ]
    /// ASCII spellings for e-mail local parts, with the capitals shoppers type ("Mueller", "deVries").
    static let emailFirstNames = firstNames.map(emailPart)
    static let emailLastNames = lastNames.map(emailPart)
    static let emailDomains = ["example.com", "example.org", "example.net", "mail.example.com"]
    static let streets = ["Hauptstraße", "Gartenweg", "Lindenallee", "Bahnhofstraße", "Rue de la Paix", "Keizersgracht", "High Street"]
    static let customerTags = ["vip", "newsletter", "wholesale", "returning", "b2b"]
    static let productTags = ["new", "sale", "bestseller", "eco"]

    struct Place: Sendable {
        var city: String
        var province: String?
        var provinceCode: String?
        var zip: String
        var country: String
        var countryCode: String
    }

    static let places: [Place] = [
        Place(city: "Berlin", province: "Berlin", provinceCode: "BE", zip: "10115", country: "Germany", countryCode: "DE"),
        Place(city: "München", province: "Bavaria", provinceCode: "BY", zip: "80331", country: "Germany", countryCode: "DE"),
        Place(city: "Hamburg", province: "Hamburg", provinceCode: "HH", zip: "20095", country: "Germany", countryCode: "DE"),
        Place(city: "Köln", province: "North Rhine-Westphalia", provinceCode: "NW", zip: "50667", country: "Germany", countryCode: "DE"),
        Place(city: "Leipzig", province: "Saxony", provinceCode: "SN", zip: "04109", country: "Germany", countryCode: "DE"),
        Place(city: "Wien", province: nil, provinceCode: nil, zip: "1010", country: "Austria", countryCode: "AT"),
        Place(city: "Amsterdam", province: nil, provinceCode: nil, zip: "1012 JS", country: "Netherlands", countryCode: "NL"),
        Place(city: "Paris", province: nil, provinceCode: nil, zip: "75001", country: "France", countryCode: "FR"),
        Place(city: "Zürich", province: "Zürich", provinceCode: "ZH", zip: "8001", country: "Switzerland", countryCode: "CH"),
        Place(city: "London", province: "England", provinceCode: "ENG", zip: "EC1A 1BB", country: "United Kingdom", countryCode: "GB"),
        Place(city: "Brooklyn", province: "New York", provinceCode: "NY", zip: "11201", country: "United States", countryCode: "US"),
    ]

    struct Noun: Sendable {
        var name: String
        var type: String
        /// Apparel varies by size, everything else by colour.
        var sized: Bool
    }

    static let productNouns: [Noun] = [
        Noun(name: "T-Shirt", type: "Tops", sized: true), Noun(name: "Hoodie", type: "Tops", sized: true),
        Noun(name: "Sweater", type: "Tops", sized: true), Noun(name: "Jacket", type: "Outerwear", sized: true),
        Noun(name: "Rain Coat", type: "Outerwear", sized: true), Noun(name: "Sneakers", type: "Footwear", sized: true),
        Noun(name: "Socks", type: "Accessories", sized: true), Noun(name: "Beanie", type: "Accessories", sized: false),
        Noun(name: "Scarf", type: "Accessories", sized: false), Noun(name: "Cap", type: "Accessories", sized: false),
        Noun(name: "Tote Bag", type: "Bags", sized: false), Noun(name: "Backpack", type: "Bags", sized: false),
        Noun(name: "Mug", type: "Home", sized: false), Noun(name: "Notebook", type: "Stationery", sized: false),
        Noun(name: "Water Bottle", type: "Home", sized: false), Noun(name: "Blanket", type: "Home", sized: false),
    ]
    static let productAdjectives = [
        "Classic", "Organic", "Vintage", "Everyday", "Premium", "Linen", "Wool", "Recycled", "Canvas", "Merino",
        "Cotton", "Summer", "Alpine", "Coastal", "Urban", "Heritage", "Lightweight", "Midnight", "Sunset", "Forest",
    ]
    /// Titles that exercise escaping and non-ASCII handles.
    static let specialTitles = ["Café Crème Mug", "Kids' \"Dino\" T-Shirt", "Größe & Form Tote", "Ñandú Scarf 100% Wool", "Émile's Notebook"]
    static let vendors = ["Northwind Outfitters", "Acme Apparel", "Fjord & Pine", "Studio Kettle", "Lumen Goods"]
    static let sizes = ["XS", "S", "M", "L", "XL", "XXL"]
    static let colors = ["Black", "White", "Navy", "Olive", "Sand", "Rust"]
    static let prices: [Int64] = [990, 1490, 1990, 2490, 2990, 3490, 4990, 5990, 7990, 9990, 12990, 14990]
    static let discountCodes: [(code: String, percent: Int64)] = [("WELCOME10", 10), ("SPRING15", 15), ("VIP20", 20)]

    /// Shopify-style handle: lower case ASCII letters and digits separated by single hyphens.
    static func slug(_ title: String) -> String {
        let folded = title.folding(options: [.diacriticInsensitive, .caseInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            .replacingOccurrences(of: "ß", with: "ss")
        var out = ""
        var pendingHyphen = false
        for scalar in folded.unicodeScalars {
            if scalar.isASCII, CharacterSet.alphanumerics.contains(scalar) {
                if pendingHyphen, !out.isEmpty { out += "-" }
                pendingHyphen = false
                out.unicodeScalars.append(scalar)
            } else if scalar != "'" && scalar != "\u{2019}" {
                pendingHyphen = true
            }
        }
        return out.lowercased()
    }

    static func emailPart(_ name: String) -> String {
        let folded = name.replacingOccurrences(of: "ü", with: "ue").replacingOccurrences(of: "ö", with: "oe")
            .replacingOccurrences(of: "ä", with: "ae").replacingOccurrences(of: "ß", with: "ss")
            .folding(options: .diacriticInsensitive, locale: Locale(identifier: "en_US_POSIX"))
        return String(folded.unicodeScalars.filter { $0.isASCII && CharacterSet.alphanumerics.contains($0) }.map(Character.init))
    }
}
