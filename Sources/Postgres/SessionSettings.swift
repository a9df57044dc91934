/// Per-connection limits, so that a held lock, a runaway query or a vanished server becomes an
/// error within a known time instead of a caller waiting forever.
///
/// The service uses short limits (lookups and triggers must answer inside Cognito's 5 s);
/// batch jobs (import, reconcile, verify) use longer ones. 0 means no limit, as in PostgreSQL.
public struct SessionSettings: Sendable, Equatable {
    public var statementTimeoutMilliseconds: Int
    public var lockTimeoutMilliseconds: Int
    /// Ends sessions that sit in an open transaction (a client that died mid-transaction).
    public var idleInTransactionTimeoutMilliseconds: Int
    public var keepaliveIdleSeconds: Int
    /// How long sent data may stay unacknowledged before the kernel drops the connection.
    public var tcpUserTimeoutMilliseconds: Int

    public init(
        statementTimeoutMilliseconds: Int = 0,
        lockTimeoutMilliseconds: Int = 0,
        idleInTransactionTimeoutMilliseconds: Int = 60_000,
        keepaliveIdleSeconds: Int = 10,
        tcpUserTimeoutMilliseconds: Int = 10_000
    ) {
        self.statementTimeoutMilliseconds = max(0, statementTimeoutMilliseconds)
        self.lockTimeoutMilliseconds = max(0, lockTimeoutMilliseconds)
        self.idleInTransactionTimeoutMilliseconds = max(0, idleInTransactionTimeoutMilliseconds)
        self.keepaliveIdleSeconds = max(1, keepaliveIdleSeconds)
        self.tcpUserTimeoutMilliseconds = max(0, tcpUserTimeoutMilliseconds)
    }

    /// For the HTTP service: lookups, triggers and interactive writes.
    public static let service = SessionSettings(statementTimeoutMilliseconds: 3_000, lockTimeoutMilliseconds: 1_000)
    /// For CLI jobs that legitimately run long statements (imports, reconciliation, verify).
    public static let job = SessionSettings(statementTimeoutMilliseconds: 0, lockTimeoutMilliseconds: 60_000)

    /// One round trip at connect: integers only, so nothing here is ever user text.
    var script: String {
        """
        SET TIME ZONE 'UTC'; SET DateStyle = 'ISO'; \
        SET statement_timeout = \(statementTimeoutMilliseconds); SET lock_timeout = \(lockTimeoutMilliseconds); \
        SET idle_in_transaction_session_timeout = \(idleInTransactionTimeoutMilliseconds)
        """
    }
}
