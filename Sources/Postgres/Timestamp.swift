import Foundation

/// RFC 3339 timestamps with microseconds, in UTC, without Foundation's formatters.
///
/// Sessions are opened with `TimeZone=UTC` and `DateStyle=ISO`, so `timestamptz` arrives as
/// `2026-11-26 20:06:31.123456+00`. This parser also takes `T` and `Z` and other offsets, which is
/// what RFC 3339 query parameters look like.
public enum Timestamp {
    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int? {
            guard i + width <= b.count else { return nil }
            var value = 0
            for k in 0..<width {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            i += width
            return value
        }
        func expect(_ chars: Set<UInt8>) -> Bool {
            guard i < b.count, chars.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect([45]), let month = number(2), expect([45]), let day = number(2),
            (1...12).contains(month), (1...31).contains(day)
        else { return nil }
        var seconds = 0
        var micros = 0
        if i < b.count, b[i] == 32 || b[i] == 84 || b[i] == 116 {  // ' ', 'T', 't'
            i += 1
            guard let hour = number(2), expect([58]), let minute = number(2), expect([58]), let second = number(2),
                hour < 24, minute < 60, second < 61
            else { return nil }
            seconds = hour * 3600 + minute * 60 + second
            if i < b.count, b[i] == 46 {  // '.'
                i += 1
                var digits = 0
                while i < b.count, b[i] >= 48, b[i] <= 57 {
                    if digits < 6 { micros = micros * 10 + Int(b[i] - 48) }
                    digits += 1
                    i += 1
                }
                guard digits > 0 else { return nil }
                for _ in digits..<6 where digits < 6 { micros *= 10 }
            }
            // Offset: Z, +HH, +HH:MM, +HHMM
            if i < b.count {
                if b[i] == 90 || b[i] == 122 {
                    i += 1
                } else if b[i] == 43 || b[i] == 45 {
                    let sign = b[i] == 43 ? 1 : -1
                    i += 1
                    guard let oh = number(2) else { return nil }
                    var om = 0
                    if i < b.count, b[i] == 58 { i += 1 }
                    if i < b.count, let m = number(2) { om = m }
                    seconds -= sign * (oh * 3600 + om * 60)
                } else {
                    return nil
                }
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let total = Double(days * 86400 + seconds) + Double(micros) / 1_000_000
        return Date(timeIntervalSince1970: total)
    }

    /// `2026-11-26T20:06:31.123456Z`
    public static func format(_ date: Date) -> String {
        let interval = date.timeIntervalSince1970
        var whole = Int(interval.rounded(.down))
        var micros = Int(((interval - Double(whole)) * 1_000_000).rounded())
        if micros >= 1_000_000 {
            whole += 1
            micros -= 1_000_000
        }
        let days = whole >= 0 ? whole / 86400 : (whole - 86399) / 86400
        let secondsOfDay = whole - days * 86400
        let (y, m, d) = civilFromDays(days)
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(secondsOfDay / 3600, 2)):\(pad(secondsOfDay / 60 % 60, 2)):\(pad(secondsOfDay % 60, 2)).\(pad(micros, 6))Z"
    }

    // Howard Hinnant's days-from-civil algorithms (public domain arithmetic).
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
        let y = yoe + era * 400
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (m <= 2 ? y + 1 : y, m, d)
    }
}
