public import Foundation

/// A length of time as an operator types it: a whole number and a unit, `90s`, `30m`, `12h`, `7d`.
/// Nothing finer or fancier: the options that take one (`campaign finalize --resend --older-than`)
/// count in hours and days.
public enum DurationText {
    /// Seconds per unit.
    static let units: [Character: Int] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]

    /// The seconds `text` spells, or nil when it is not `<digits><s|m|h|d>` (or overflows).
    public static func seconds(_ text: String) -> TimeInterval? {
        guard let unit = text.last, let scale = units[unit] else { return nil }
        let digits = text.dropLast()
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int(digits) else {
            return nil
        }
        return TimeInterval(count * scale)
    }
}
