import Foundation

extension PostgresConnection {
    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    /// Runs `body` between `BEGIN` and `COMMIT`; rolls back on any error and retries the whole body
    /// on serialization failure (40001), deadlock (40P01) or a ``RetryableConflict``, with jittered backoff.
    public func transaction<T>(
        isolation: IsolationLevel = .readCommitted,
        maxAttempts: Int = 5,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        var attempt = 1
        while true {
            try execute(PostgresQuery(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation.rawValue)"))
            do {
                let value = try body(self)
                try execute("COMMIT")
                return value
            } catch {
                if isHealthy && isInTransaction {
                    _ = try? execute("ROLLBACK")
                }
                let retryable = (error as? PostgresError)?.isSerializationFailure == true || error is RetryableConflict
                guard retryable, attempt < maxAttempts else { throw error }
                let ceiling = 5 * (1 << min(attempt, 6))  // ms
                usleep(UInt32.random(in: 0...UInt32(ceiling * 1000)))
                attempt += 1
            }
        }
    }
}
