import Foundation
import Postgres

/// RFC 3339 timestamps with microseconds, the format of every time StableID shows.
public enum RFC3339 {
    public static func format(_ date: Date) -> String { Timestamp.format(date) }
    public static func parse(_ text: String) -> Date? { Timestamp.parse(text) }
}

/// True when the error means the database cannot be reached right now (answer 503, retry later),
/// as opposed to a bug or a refused request.
public func isDatabaseUnavailable(_ error: any Error) -> Bool {
    guard let error = error as? PostgresError else { return false }
    return error.isUnavailable || error.isSerializationFailure
}
