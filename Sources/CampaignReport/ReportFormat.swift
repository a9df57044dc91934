public import Foundation
import Support

/// How the report writes numbers and times: counts with thousands grouped, shares as percent with
/// one decimal, days and minutes in UTC. Written by hand rather than with a locale's formatter, so
/// the served page, the file and the tests read the same on every machine.
public enum ReportFormat {
    /// `1234567` → `1,234,567`.
    public static func count(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = value < 0 ? "-" : ""
        for (index, digit) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return out
    }

    /// `0.0123` → `1.2 %`.
    public static func share(_ fraction: Double) -> String {
        decimal(fraction * 100, digits: 1) + " %"
    }

    /// `value` rounded to `digits` decimals (0 to 4), without exponent notation.
    public static func decimal(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return "–" }
        let digits = min(max(digits, 0), 4)
        var scale = 1
        for _ in 0..<digits { scale *= 10 }
        let scaled = Int((value.magnitude * Double(scale)).rounded())
        let whole = count(scaled / scale)
        let sign = value < 0 && scaled != 0 ? "-" : ""
        guard digits > 0 else { return sign + whole }
        let fraction = String(scaled % scale)
        return sign + whole + "." + String(repeating: "0", count: digits - fraction.count) + fraction
    }

    /// `2026-11-27`, the UTC day.
    public static func day(_ date: Date) -> String {
        RFC3339.day(date)
    }

    /// `2026-11-27 09:38 UTC`.
    public static func time(_ date: Date) -> String {
        let text = RFC3339.format(date)
        return day(date) + " " + String(text.dropFirst(11).prefix(5)) + " UTC"
    }

    /// A UUID as StableID writes it everywhere: lower case.
    public static func id(_ id: UUID) -> String {
        id.uuidString.lowercased()
    }
}
