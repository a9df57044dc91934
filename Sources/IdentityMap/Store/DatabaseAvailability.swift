import Postgres

/// True when the error means the database cannot be reached right now (answer 503, retry later),
/// as opposed to a bug or a refused request.
public func isDatabaseUnavailable(_ error: any Error) -> Bool {
    guard let error = error as? PostgresError else { return false }
    return error.isUnavailable || error.isSerializationFailure
}
