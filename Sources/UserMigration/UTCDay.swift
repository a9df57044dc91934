import Foundation

/// UTC days as whole numbers since 1970-01-01. The rollup's `date` column, the curve's days and the
/// projection's dates all count the same days, so no time zone or daylight-saving shift can make
/// a link fall on two different days in two places.
enum UTCDay {
    static let seconds = 86_400.0

    /// The day `date` falls on.
    static func number(_ date: Date) -> Int {
        Int((date.timeIntervalSince1970 / seconds).rounded(.down))
    }

    /// Midnight UTC that starts day `number`.
    static func start(_ number: Int) -> Date {
        Date(timeIntervalSince1970: Double(number) * seconds)
    }
}
