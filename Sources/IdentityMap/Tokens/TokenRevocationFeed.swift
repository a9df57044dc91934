public import Foundation
import Postgres
import Support

/// A dedicated connection that hears token revocations as they commit (LISTEN/NOTIFY).
///
/// `@unchecked Sendable`: one task owns a feed and calls it sequentially; the connection is only
/// touched by bodies on the feed's own executor, never on the cooperative pool.
public final class TokenRevocationFeed: @unchecked Sendable {
    private let conninfo: String
    private let executor = BlockingExecutor(label: "stableid.token-revocations")
    private var connection: PostgresConnection?

    public init(conninfo: String) {
        self.conninfo = conninfo
    }

    public func connect() async throws {
        try await onQueue {
            let connection = try PostgresConnection.connect(
                conninfo: self.conninfo, applicationName: "stableid-listener",
                session: SessionSettings(statementTimeoutMilliseconds: 1_000, keepaliveIdleSeconds: 1, tcpUserTimeoutMilliseconds: 1_000)
            )
            try connection.execute(PostgresQuery(unsafeSQL: "LISTEN \(TokenStore.revocationChannel)"))
            self.connection = connection
        }
    }

    /// Waits up to `timeout` and returns the revoked token ids heard (nil: unparseable, evict all).
    public func next(timeout: Duration) async throws -> [UUID?] {
        try await onQueue {
            guard let connection = self.connection else {
                throw PostgresError(kind: .connection, message: "revocation feed is not connected")
            }
            return try connection.waitForNotifications(timeoutMilliseconds: Int(timeout.milliseconds)).map { UUID(uuidString: $0.payload) }
        }
    }

    /// A round trip on the feed's connection: throws when it is dead, so the caller switches the
    /// token cache off instead of trusting a feed that can no longer hear revocations.
    public func ping(timeout: Duration) async throws {
        try await onQueue(timeout: timeout) {
            guard let connection = self.connection else {
                throw PostgresError(kind: .connection, message: "revocation feed is not connected")
            }
            try connection.execute("SELECT 1")
        }
    }

    /// Queued rather than awaited: closing must happen even when the caller is cancelled (that is
    /// when shutdown calls it), and only after a body that is still waiting on the connection.
    public func close() async {
        executor.enqueue { self.connection = nil }
    }

    private func onQueue<T: Sendable>(timeout: Duration? = nil, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await executor.run(timeout: timeout, body)
    }
}
