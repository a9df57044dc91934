public import Foundation

/// RFC 3339 timestamps in UTC with microseconds: the one way StableID writes and reads times, in
/// its answers, its logs and to and from PostgreSQL.
///
/// Written with integer arithmetic instead of `DateFormatter`/`ISO8601DateFormatter`, which cost
/// more than the rest of a lookup; microseconds because that is PostgreSQL's `timestamptz`
/// precision, so a time survives the round trip through the database unchanged. Arithmetic is
/// done on `timeIntervalSinceReferenceDate`, the value `Date` stores, so no extra rounding step
/// sits between the text and the `Date` (exact to the microsecond for years 1730–2270, where a
/// `Double` of seconds since 2001 still resolves half of one).
public enum RFC3339 {
    /// `2026-11-27T09:38:53.123456Z`: always UTC, always six fractional digits, so the text sorts
    /// like the time and has one spelling per instant.
    /// `2026-11-27`: the UTC day of `date`, as the first ten characters of ``format(_:)``.
    public static func day(_ date: Date) -> String {
        String(format(date).prefix(10))
    }

    public static func format(_ date: Date) -> String {
        let micros = microsecondsSince1970(date)
        let text = String(unsafeUninitializedCapacity: 27) { write(microsecondsSince1970: micros, into: $0) }
        return text.isEmpty ? outOfRange(microsecondsSince1970: micros) : text
    }

    /// Appends the UTF-8 of ``format(_:)``: for writers of many timestamps, without a `String` each.
    public static func append(_ date: Date, to out: inout [UInt8]) {
        appendUTC(microsecondsSince1970: microsecondsSince1970(date), to: &out)
    }

    /// Appends the UTF-8 of ``format(_:)`` for a time given in microseconds since 1970: for
    /// writers of many timestamps that hold them as integers (PostgreSQL's binary format), so no
    /// `Date` or `String` is made per value.
    public static func appendUTC(microsecondsSince1970 micros: Int64, to out: inout [UInt8]) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: 27))
        let written = out.withUnsafeMutableBufferPointer { write(microsecondsSince1970: micros, into: .init(rebasing: $0[start...])) }
        out.removeLast(27 - written)
        if written == 0 { out += Array(outOfRange(microsecondsSince1970: micros).utf8) }
    }

    /// Room ``write(_:into:)`` needs: its longest text, out of range at the clamp of
    /// ``microsecondsSince1970(_:)``, is 29 bytes.
    public static let maxLength = 64

    /// Writes the UTF-8 of ``format(_:)`` at `out`, which has room for ``maxLength`` bytes, and
    /// returns its length: for writers that hold a raw buffer.
    public static func write(_ date: Date, into out: UnsafeMutablePointer<UInt8>) -> Int {
        let micros = microsecondsSince1970(date)
        let written = write(microsecondsSince1970: micros, into: UnsafeMutableBufferPointer(start: out, count: 27))
        if written > 0 { return written }
        let text = Array(outOfRange(microsecondsSince1970: micros).utf8)
        precondition(text.count <= maxLength, "an out-of-range time longer than RFC3339.maxLength")
        text.withUnsafeBufferPointer { out.update(from: $0.baseAddress!, count: text.count) }
        return text.count
    }

    /// Writes the 27 bytes of a four-digit-year time into `out`; 0 (nothing written) outside years 0–9999.
    private static func write(microsecondsSince1970 micros: Int64, into out: UnsafeMutableBufferPointer<UInt8>) -> Int {
        let (year, month, day, secondOfDay, fraction) = fields(microsecondsSince1970: micros)
        guard (0...9999).contains(year) else { return 0 }
        var index = 0
        func putNumber(_ value: Int, width: Int) {
            var value = value
            var position = index + width - 1
            while position >= index {
                out[position] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
                position -= 1
            }
            index += width
        }
        func putCharacter(_ character: Unicode.Scalar) {
            out[index] = UInt8(ascii: character)
            index += 1
        }
        putNumber(year, width: 4)
        putCharacter("-")
        putNumber(month, width: 2)
        putCharacter("-")
        putNumber(day, width: 2)
        putCharacter("T")
        putNumber(secondOfDay / 3600, width: 2)
        putCharacter(":")
        putNumber(secondOfDay / 60 % 60, width: 2)
        putCharacter(":")
        putNumber(secondOfDay % 60, width: 2)
        putCharacter(".")
        putNumber(fraction, width: 6)
        putCharacter("Z")
        return index
    }

    /// Outside four-digit years RFC 3339 has no spelling; the fields are kept readable anyway.
    private static func outOfRange(microsecondsSince1970 micros: Int64) -> String {
        let (year, month, day, secondOfDay, fraction) = fields(microsecondsSince1970: micros)
        return "\(year)-\(month)-\(day)T\(secondOfDay / 3600):\(secondOfDay / 60 % 60):\(secondOfDay % 60).\(fraction)Z"
    }

    private static func fields(
        microsecondsSince1970 micros: Int64
    ) -> (year: Int, month: Int, day: Int, secondOfDay: Int, fraction: Int) {
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = Int(micros - seconds * 1_000_000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let (year, month, day) = CivilCalendar.date(fromDays: Int(days))
        return (year, month, day, secondOfDay, fraction)
    }

    /// Parses `2026-11-27T09:38:53.123456Z` and the spellings around it that clients and
    /// PostgreSQL (`2026-11-27 09:38:53.123456+00`) produce: `T`, `t` or a space between date and
    /// time; no fraction or any number of fractional digits (rounded to the microsecond); `Z`,
    /// `z`, `±HH:MM`, `±HHMM` or `±HH`; no offset means UTC. A date alone means its midnight UTC.
    /// Nil for anything else, including dates that do not exist (`2026-02-30`).
    public static func parse(_ text: some StringProtocol) -> Date? {
        let fast: Date?? = text.utf8.withContiguousStorageIfAvailable { parse(bytes: $0) }
        if let fast { return fast }
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { parse(bytes: $0) }
    }

    private static func parse(bytes: UnsafeBufferPointer<UInt8>) -> Date? {
        var scanner = TimestampScanner(bytes: bytes)
        guard let year = scanner.number(width: 4), scanner.skip("-"),
            let month = scanner.number(width: 2), scanner.skip("-"),
            let day = scanner.number(width: 2),
            (1...12).contains(month), (1...CivilCalendar.daysIn(month: month, year: year)).contains(day)
        else { return nil }
        var secondOfDay = 0
        var micros = 0
        var offsetSeconds = 0
        if scanner.skip("T") || scanner.skip("t") || scanner.skip(" ") {
            guard let hour = scanner.number(width: 2), scanner.skip(":"),
                let minute = scanner.number(width: 2), scanner.skip(":"),
                let second = scanner.number(width: 2),
                hour < 24, minute < 60, second <= 60  // 60: a leap second, counted into the next minute
            else { return nil }
            secondOfDay = hour * 3600 + minute * 60 + second
            if scanner.skip(".") {
                guard let fraction = scanner.fractionInMicroseconds() else { return nil }
                micros = fraction
            }
            if scanner.skip("Z") || scanner.skip("z") {
                // UTC
            } else if let sign = scanner.sign() {
                guard let hours = scanner.number(width: 2), hours < 24 else { return nil }
                var minutes = 0
                if scanner.skip(":") {
                    guard let value = scanner.number(width: 2) else { return nil }
                    minutes = value
                } else if !scanner.isAtEnd {
                    guard let value = scanner.number(width: 2) else { return nil }
                    minutes = value
                }
                guard minutes < 60 else { return nil }
                offsetSeconds = sign * (hours * 3600 + minutes * 60)
            }
        }
        guard scanner.isAtEnd else { return nil }
        let days = CivilCalendar.days(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(secondOfDay - offsetSeconds)
        return date(microsecondsSince1970: seconds * 1_000_000 + Int64(micros))
    }

    // MARK: Microseconds ↔ Date

    /// Seconds from 1970 to 2001, the reference date `Date` counts from.
    private static let referenceOffsetMicros: Int64 = 978_307_200 * 1_000_000

    static func microsecondsSince1970(_ date: Date) -> Int64 {
        let interval = date.timeIntervalSinceReferenceDate
        guard interval.isFinite else { return referenceOffsetMicros }
        // ±1e12 s (some 31,000 years) keeps the microseconds inside Int64; no real time is beyond.
        let clamped = min(max(interval, -1e12), 1e12)
        // Whole seconds and fraction apart: the subtraction is exact, so the only rounding is the
        // one to the nearest microsecond.
        let whole = clamped.rounded(.down)
        return Int64(whole) * 1_000_000 + Int64(((clamped - whole) * 1_000_000).rounded()) + referenceOffsetMicros
    }

    /// The `Date` of a time in whole microseconds, rounded exactly as ``parse(_:)`` rounds, so a
    /// time read in binary and one read as text are the same `Date`.
    public static func date(microsecondsSince1970 micros: Int64) -> Date {
        Date(timeIntervalSinceReferenceDate: Double(micros - referenceOffsetMicros) / 1_000_000)
    }
}

/// Reads the fields of a timestamp off its UTF-8 bytes without allocating.
private struct TimestampScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0

    var isAtEnd: Bool { index == bytes.count }

    mutating func skip(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.count, bytes[index] == UInt8(ascii: character) else { return false }
        index += 1
        return true
    }

    mutating func number(width: Int) -> Int? {
        guard index + width <= bytes.count else { return nil }
        var value = 0
        for offset in 0..<width {
            let byte = bytes[index + offset]
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        index += width
        return value
    }

    /// `+` → 1, `-` → -1.
    mutating func sign() -> Int? {
        if skip("+") { return 1 }
        if skip("-") { return -1 }
        return nil
    }

    /// One or more digits after the decimal point, rounded half up to microseconds (1_000_000
    /// when `.9999995` and more rounds up to the next second, which the caller adds as is).
    mutating func fractionInMicroseconds() -> Int? {
        var micros = 0
        var digits = 0
        var roundUp = false
        while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
            let digit = Int(bytes[index] - UInt8(ascii: "0"))
            if digits < 6 {
                micros = micros * 10 + digit
            } else if digits == 6 {
                roundUp = digit >= 5
            }
            digits += 1
            index += 1
        }
        guard digits > 0 else { return nil }
        for _ in digits..<max(digits, 6) { micros *= 10 }
        return roundUp ? micros + 1 : micros
    }
}

/// Proleptic Gregorian dates ↔ days since 1970-01-01, with Howard Hinnant's public-domain
/// `days_from_civil`/`civil_from_days` arithmetic: exact for every year and free of branches on
/// month lengths, which is what makes formatting cheap.
enum CivilCalendar {
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let shiftedMonth = (month + 9) % 12  // March is 0, so February's length comes last
        let dayOfYear = (153 * shiftedMonth + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func date(fromDays days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}
