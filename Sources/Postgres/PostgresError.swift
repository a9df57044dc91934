/// A failure talking to PostgreSQL.
///
/// Deliberately carries no bind values and no server `DETAIL` text: PostgreSQL puts row values into
/// `DETAIL` (`Key (sub)=(…) already exists`) and into data-exception messages, and those must never
/// reach a log line or an HTTP response.
public struct PostgresError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The server rejected a statement; see `sqlState`.
        case server
        /// No connection could be opened, or an open one broke.
        case connection
        /// Every pooled connection stayed busy past the acquire timeout.
        case poolExhausted
        /// The pool was shut down.
        case poolClosed
        /// A value from the server did not decode as the requested type.
        case decoding
        /// Anything libpq reported that fits none of the above.
        case client
        /// A value that cannot be sent at all (a NUL byte): the caller's input, not a fault.
        case invalidParameter
    }

    public var kind: Kind
    /// Five-character SQLSTATE for `.server` errors (e.g. `23505`).
    public var sqlState: String?
    /// Name of the violated constraint, when the server names one.
    public var constraint: String?
    /// A message safe to log: the server's primary message, except for the classes that embed values.
    public var message: String

    public init(kind: Kind, sqlState: String? = nil, constraint: String? = nil, message: String) {
        self.kind = kind
        self.sqlState = sqlState
        self.constraint = constraint
        self.message = message
    }

    public var description: String {
        var text = "PostgresError(\(kind)"
        if let sqlState { text += ", sqlstate \(sqlState)" }
        if let constraint { text += ", constraint \(constraint)" }
        return text + "): \(message)"
    }

    public var isUniqueViolation: Bool { sqlState == "23505" }
    public var isForeignKeyViolation: Bool { sqlState == "23503" }
    public var isSerializationFailure: Bool { sqlState == "40001" || sqlState == "40P01" }
    public var isInsufficientPrivilege: Bool { sqlState == "42501" }
    /// 57014: the statement ran past `statement_timeout` (or was cancelled); 55P03: `lock_timeout`.
    public var isTimeout: Bool { sqlState == "57014" || sqlState == "55P03" }
    /// 0A000 (`cached plan must not change result type`) or 26000 (the statement is gone).
    var invalidatesPreparedStatement: Bool {
        sqlState == "26000" || (sqlState == "0A000" && message.contains("cached plan"))
    }
    /// True when the database could not be reached or went away: callers answer 503, not 500.
    public var isUnavailable: Bool {
        switch kind {
        case .connection, .poolExhausted, .poolClosed: return true
        default: break
        }
        // 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, class 08 connection exception
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || sqlState.hasPrefix("57P")
    }
}

/// A write found the database in a state that a concurrent transaction is changing (a row it
/// collided with is gone, a key is mid-flight): running the whole transaction again is the fix.
/// ``PostgresConnection/transaction(isolation:maxAttempts:_:)`` retries it like a serialization
/// failure; when retries run out it reaches the caller as is.
public struct RetryableConflict: Error, Sendable, CustomStringConvertible {
    public var reason: String

    public init(_ reason: String) {
        self.reason = reason
    }

    public var description: String { "retryable conflict: \(reason)" }
}
