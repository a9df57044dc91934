public import Foundation
import Postgres

/// A dedicated connection that hears token revocations as they commit (LISTEN/NOTIFY), through
/// Postgres's ``PostgresListener`` (its own connection and executor).
public final class TokenRevocationFeed: Sendable {
    private let listener: PostgresListener

    public init(conninfo: String) {
        listener = PostgresListener(
            conninfo: conninfo, applicationName: "stableid-listener",
            session: SessionSettings(statementTimeoutMilliseconds: 1_000, keepaliveIdleSeconds: 1, tcpUserTimeoutMilliseconds: 1_000),
            label: "stableid.token-revocations"
        )
    }

    public func connect() async throws {
        try await listener.connect(channels: [TokenStore.revocationChannel])
    }

    /// Waits up to `timeout` and returns the revoked token ids heard (nil: unparseable, evict all).
    public func next(timeout: Duration) async throws -> [UUID?] {
        try await listener.next(timeout: timeout).map { UUID(uuidString: $0.payload) }
    }

    /// A round trip on the feed's connection: throws when it is dead, so the caller switches the
    /// token cache off instead of trusting a feed that can no longer hear revocations.
    public func ping(timeout: Duration) async throws {
        try await listener.ping(timeout: timeout)
    }

    /// Queued rather than awaited (see ``PostgresListener/close()``).
    public func close() async {
        listener.close()
    }
}
