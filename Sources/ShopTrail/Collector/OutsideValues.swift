/// The one place where numbers and ids from outside (beacons, pixel, App Proxy, webhooks, Admin API
/// pages, backfill, catalog) become Swift values. Every conversion is total: a value out of range,
/// non-finite, fractional where a count is expected, or of the wrong type reads as absent, never as a
/// trap and never as `inf`/`nan` text on its way to Braze (docs/identity.md, "Outside numbers").
extension JSONValue {
    /// Amounts beyond this magnitude (10^15: ten trillion in minor units) read as absent; everything
    /// real fits with room to spare, and every Int64 conversion of what passes is exact and safe.
    static let maxAmountMagnitude = 1e15
    /// The largest item count read as a quantity.
    static let maxQuantity = 1_000_000

    /// Longer ids read as absent (Shopify's are at most 20 digits, GIDs about 40 characters).
    static let maxIdLength = 128

    /// A Shopify id as a string, whether sent as a string or a number (numbers keep every digit here).
    var idString: String? {
        switch self {
        case .string(let s) where s.utf8.count <= Self.maxIdLength: s
        case .number(let n) where !n.contains(".") && !n.contains("e") && !n.contains("E") && n.utf8.count <= Self.maxIdLength: n
        default: nil
        }
    }

    /// A finite amount within ±10^15 (a number or a numeric string); nil for anything else.
    var doubleValue: Double? {
        let parsed: Double? = switch self {
        case .number(let n): Double(n)
        case .string(let s): Double(s)
        default: nil
        }
        guard let parsed, parsed.isFinite, parsed.magnitude <= Self.maxAmountMagnitude else { return nil }
        return parsed
    }

    /// An item count: a whole number from 0 to 1,000,000 (a number or a numeric string); nil for
    /// anything else (negative, fractional, huge, non-finite, another type).
    var quantityValue: Int? {
        guard let value = doubleValue, value >= 0, value <= Double(Self.maxQuantity), value.rounded(.towardZero) == value else { return nil }
        return Int(value)
    }

    /// Minor units as a whole Int64 (rounded); nil when not an amount.
    var minorUnits: Int64? { doubleValue.map { Int64($0.rounded()) } }

    /// A line's quantity: `ifAbsent` when the field is missing or null, nil when it is present but not
    /// a valid count (the caller then drops the line rather than guess).
    static func quantity(_ value: JSONValue?, ifAbsent: Int) -> Int? {
        guard let value, value != .null else { return ifAbsent }
        return value.quantityValue
    }
}

extension Int64 {
    /// A wait computed from outside figures (a `Retry-After`, a reported bucket) as whole
    /// milliseconds, bounded to `0...limit`; NaN reads as 0. Total where `Int64(double)` traps.
    static func boundedMillis(_ millis: Double, limit: Int64 = 3_600_000) -> Int64 {
        guard millis.isFinite, millis > 0 else { return millis == .infinity ? limit : 0 }
        return millis >= Double(limit) ? limit : Int64(millis.rounded(.up))
    }
}
