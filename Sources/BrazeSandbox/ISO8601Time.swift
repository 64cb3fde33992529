import Foundation

/// Parses the datetimes Braze accepts: ISO-8601 (fractional seconds and offsets allowed) and
/// Braze's own `yyyy-MM-dd'T'HH:mm:ss:SSSZ`. Rejects out-of-range fields instead of rolling them over.
public enum ISO8601Time {
    public static func parse(_ text: String) -> Date? {
        var scanner = Scanner(Array(text.utf8))
        guard let year = scanner.digits(exactly: 4), scanner.take(UInt8(ascii: "-")),
              let month = scanner.digits(exactly: 2), scanner.take(UInt8(ascii: "-")),
              let day = scanner.digits(exactly: 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year) else { return nil }
        var hour = 0, minute = 0, second = 0
        var fraction = 0.0
        var offsetSeconds = 0
        if scanner.atEnd {
            // Date only: midnight UTC.
        } else {
            guard scanner.take(UInt8(ascii: "T")) || scanner.take(UInt8(ascii: "t")) || scanner.take(UInt8(ascii: " ")) else { return nil }
            guard let h = scanner.digits(exactly: 2), scanner.take(UInt8(ascii: ":")), let m = scanner.digits(exactly: 2) else { return nil }
            hour = h
            minute = m
            if scanner.take(UInt8(ascii: ":")) {
                guard let s = scanner.digits(exactly: 2) else { return nil }
                second = s
                // "." or "," per ISO-8601; ":" is Braze's SSS form.
                if scanner.take(UInt8(ascii: ".")) || scanner.take(UInt8(ascii: ",")) || scanner.take(UInt8(ascii: ":")) {
                    guard let (value, count) = scanner.digitRun(), count > 0 else { return nil }
                    fraction = Double(value) / pow(10, Double(count))
                }
            }
            guard hour <= 23, minute <= 59, second <= 60 else { return nil }
            if scanner.take(UInt8(ascii: "Z")) || scanner.take(UInt8(ascii: "z")) {
                offsetSeconds = 0
            } else if let sign = scanner.peek, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
                scanner.advance()
                guard let oh = scanner.digits(exactly: 2) else { return nil }
                var om = 0
                if scanner.take(UInt8(ascii: ":")) {
                    guard let value = scanner.digits(exactly: 2) else { return nil }
                    om = value
                } else if let value = scanner.digits(exactly: 2) {
                    om = value
                }
                guard oh <= 23, om <= 59 else { return nil }
                offsetSeconds = (oh * 3600 + om * 60) * (sign == UInt8(ascii: "-") ? -1 : 1)
            }
            // No designator: taken as UTC, as Braze does for zone-less times.
        }
        guard scanner.atEnd else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Double(days * 86400 + hour * 3600 + minute * 60 + second - offsetSeconds) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    /// UTC with milliseconds, the form the sandbox writes.
    public static func format(_ date: Date) -> String {
        let millis = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        let secondsTotal = Int(millis.floorDiv(1000))
        let ms = Int(millis - Int64(secondsTotal) * 1000)
        let days = secondsTotal.floorDiv(86400)
        let rem = secondsTotal - days * 86400
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(rem / 3600, 2)):\(pad(rem % 3600 / 60, 2)):\(pad(rem % 60, 2)).\(pad(ms, 3))Z"
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days: exact and free of Calendar/TimeZone state.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    private struct Scanner {
        let bytes: [UInt8]
        var index = 0
        init(_ bytes: [UInt8]) { self.bytes = bytes }
        var atEnd: Bool { index >= bytes.count }
        var peek: UInt8? { atEnd ? nil : bytes[index] }
        mutating func advance() { index += 1 }
        mutating func take(_ byte: UInt8) -> Bool {
            guard peek == byte else { return false }
            index += 1
            return true
        }
        mutating func digits(exactly count: Int) -> Int? {
            guard index + count <= bytes.count else { return nil }
            var value = 0
            for offset in 0..<count {
                let b = bytes[index + offset]
                guard b >= 48, b <= 57 else { return nil }
                value = value * 10 + Int(b - 48)
            }
            index += count
            return value
        }
        /// Up to 9 significant fraction digits; further digits are consumed and ignored.
        mutating func digitRun() -> (Int, Int)? {
            var value = 0, count = 0
            while let b = peek, b >= 48, b <= 57 {
                if count < 9 {
                    value = value * 10 + Int(b - 48)
                    count += 1
                }
                index += 1
            }
            return (value, count)
        }
    }
}

extension BinaryInteger {
    fileprivate func floorDiv(_ divisor: Self) -> Self {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}
