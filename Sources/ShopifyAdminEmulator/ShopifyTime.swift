import Foundation

/// Shopify's `DateTime` text (`2026-05-01T12:34:56Z`, UTC, whole seconds), formatted and parsed without
/// Foundation formatters so pages of 250 orders stay cheap.
public enum ShopifyTime {
    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC; fractions of a second are dropped as Shopify does.
    public static func format(_ date: Date) -> String {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = civil(fromDays: days)
        var out = ""
        out.reserveCapacity(20)
        out += pad(year, 4); out += "-"; out += pad(month, 2); out += "-"; out += pad(day, 2)
        out += "T"; out += pad(secondOfDay / 3600, 2); out += ":"; out += pad(secondOfDay / 60 % 60, 2)
        out += ":"; out += pad(secondOfDay % 60, 2); out += "Z"
        return out
    }

    /// ISO-8601 date or date-time: `2026-05-01`, `2026-05-01T12:00`, `…:56`, `….123`, `Z` or `±hh:mm` (none = UTC),
    /// `T` or a space between date and time. nil when malformed or out of range.
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        var index = 0
        func number(_ count: Int) -> Int64? {
            guard index + count <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[index..<index + count] {
                guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            index += count
            return value
        }
        func take(_ char: Character) -> Bool {
            guard index < bytes.count, let ascii = char.asciiValue, bytes[index] == ascii else { return false }
            index += 1
            return true
        }
        guard let year = number(4), take("-"), let month = number(2), take("-"), let day = number(2),
              (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year)
        else { return nil }
        var secondOfDay: Int64 = 0
        var fraction = 0.0
        var offset: Int64 = 0
        if index < bytes.count {
            guard take("T") || take("t") || take(" ") else { return nil }
            guard let hour = number(2), take(":"), let minute = number(2), hour <= 23, minute <= 59 else { return nil }
            secondOfDay = hour * 3600 + minute * 60
            if take(":") {
                guard let second = number(2), second <= 59 else { return nil }
                secondOfDay += second
                if take(".") || take(",") {
                    let start = index
                    while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
                    guard index > start, let value = Double("0." + String(decoding: bytes[start..<index], as: UTF8.self)) else { return nil }
                    fraction = value
                }
            }
            if take("Z") || take("z") {
                offset = 0
            } else if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                let negative = bytes[index] == UInt8(ascii: "-")
                index += 1
                guard let hours = number(2), hours <= 23 else { return nil }
                var minutes: Int64 = 0
                if take(":") {
                    guard let value = number(2) else { return nil }
                    minutes = value
                } else if let value = number(2) {
                    minutes = value
                }
                guard minutes <= 59 else { return nil }
                offset = (hours * 3600 + minutes * 60) * (negative ? -1 : 1)
            }
            guard index == bytes.count else { return nil }
        }
        let seconds = days(fromCivil: year, month, day) * 86_400 + secondOfDay - offset
        return Date(timeIntervalSince1970: Double(seconds) + fraction)
    }

    /// Whole seconds since 1970, the unit cursors and comparisons use.
    static func epochSeconds(_ date: Date) -> Int64 { Int64(date.timeIntervalSince1970.rounded(.down)) }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    private static func isLeap(_ year: Int64) -> Bool { (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 }

    private static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: return isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's civil-date algorithms: exact for the proleptic Gregorian calendar.
    private static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    private static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
