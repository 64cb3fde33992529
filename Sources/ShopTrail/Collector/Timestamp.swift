/// Milliseconds since the Unix epoch, the one time representation used in the store.
public typealias EpochMillis = Int64

/// RFC 3339 / ISO 8601 timestamps (`2026-11-23T10:00:00.123Z`, `…+01:00`) to and from epoch milliseconds.
///
/// Hand-written because `ISO8601DateFormatter` is slow on the ingest path and not `Sendable`.
public enum Timestamp {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `nil` when the text is not such a time.
    public static func parse(_ text: String) -> EpochMillis? {
        var utf8 = Array(text.utf8)
        guard utf8.count >= 20 else { return nil }
        if utf8[10] == UInt8(ascii: "t") || utf8[10] == UInt8(ascii: " ") { utf8[10] = UInt8(ascii: "T") }
        func digits(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= utf8.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                let b = utf8[i]
                guard b >= 48, b <= 57 else { return nil }
                v = v * 10 + Int(b - 48)
            }
            return v
        }
        guard let year = digits(0, 4), utf8[4] == UInt8(ascii: "-"),
              let month = digits(5, 2), utf8[7] == UInt8(ascii: "-"),
              let day = digits(8, 2), utf8[10] == UInt8(ascii: "T"),
              let hour = digits(11, 2), utf8[13] == UInt8(ascii: ":"),
              let minute = digits(14, 2), utf8[16] == UInt8(ascii: ":"),
              let second = digits(17, 2)
        else { return nil }
        guard (1...12).contains(month), day >= 1, day <= daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var i = 19
        var millis = 0
        if i < utf8.count, utf8[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 100
            let start = i
            while i < utf8.count, utf8[i] >= 48, utf8[i] <= 57 {
                millis += Int(utf8[i] - 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < utf8.count else { return nil }
        var offsetMinutes = 0
        switch utf8[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            let sign = utf8[i] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = digits(i + 1, 2), i + 3 < utf8.count, utf8[i + 3] == UInt8(ascii: ":"), let om = digits(i + 4, 2),
                  oh <= 23, om <= 59
            else { return nil }
            offsetMinutes = sign * (oh * 60 + om)
            i += 6
        default:
            return nil
        }
        guard i == utf8.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + min(second, 59)) - Int64(offsetMinutes * 60)
        return seconds * 1000 + Int64(millis)
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ` (UTC).
    public static func format(_ millis: EpochMillis) -> String {
        let totalSeconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let ms = Int(millis - totalSeconds * 1000)
        let days = totalSeconds >= 0 ? totalSeconds / 86_400 : (totalSeconds - 86_399) / 86_400
        let secondOfDay = Int(totalSeconds - days * 86_400)
        let (y, m, d) = civilFromDays(Int(days))
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay / 60 % 60, 2)):\(pad(secondOfDay % 60, 2)).\(pad(ms, 3))Z"
    }

    static func isLeap(_ y: Int) -> Bool { (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ z0: Int) -> (Int, Int, Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
