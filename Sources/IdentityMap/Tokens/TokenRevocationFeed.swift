import Dispatch
import Foundation
import Postgres

/// A dedicated connection that hears token revocations as they commit (LISTEN/NOTIFY).
///
/// `@unchecked Sendable`: one task owns a feed and calls it sequentially; the connection is only
/// touched on the feed's own queue, never on the cooperative pool.
public final class TokenRevocationFeed: @unchecked Sendable {
    private let conninfo: String
    private let queue = DispatchQueue(label: "stableid.token-revocations")
    private var connection: PostgresConnection?

    public init(conninfo: String) {
        self.conninfo = conninfo
    }

    public func connect() async throws {
        try await onQueue {
            let connection = try PostgresConnection.connect(conninfo: self.conninfo, applicationName: "stableid-listener")
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
            let milliseconds = Int(timeout.components.seconds) * 1000 + Int(timeout.components.attoseconds / 1_000_000_000_000_000)
            return try connection.waitForNotifications(timeoutMilliseconds: milliseconds).map { UUID(uuidString: $0.payload) }
        }
    }

    public func close() async {
        _ = try? await onQueue { self.connection = nil }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result(catching: body)) }
        }
    }
}
