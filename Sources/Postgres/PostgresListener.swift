import Support

/// A connection of its own that LISTENs: it hears NOTIFYs as their transactions commit.
///
/// Its own connection and executor, so waiting for notifications neither takes a slot of a
/// ``PostgresClient`` nor waits behind one, and the session that LISTENs stays put. Used by the
/// token revocation feed and the change feed's notifier (one listener per server each, never one
/// per waiting request).
///
/// `@unchecked Sendable`: one task owns a listener and calls it sequentially; the connection is
/// only touched by bodies on the listener's own executor, never on the cooperative pool.
public final class PostgresListener: @unchecked Sendable {
    private let conninfo: String
    private let applicationName: String
    private let session: SessionSettings
    private let executor: BlockingExecutor
    private var connection: PostgresConnection?

    /// `session` bounds its statements (LISTEN, a ping); keep its keepalives short, so a dead
    /// connection is noticed within seconds.
    public init(conninfo: String, applicationName: String, session: SessionSettings, label: String) {
        self.conninfo = conninfo
        self.applicationName = applicationName
        self.session = session
        self.executor = BlockingExecutor(label: label)
    }

    /// Connects and LISTENs on every channel (code-chosen names, never a caller's text). Throws
    /// when it cannot, e.g. on a hot standby ("cannot execute LISTEN during recovery").
    public func connect(channels: [String]) async throws {
        try await executor.run {
            let connection = try PostgresConnection.connect(
                conninfo: self.conninfo, applicationName: self.applicationName, session: self.session
            )
            for channel in channels {
                try connection.execute(PostgresQuery(unsafeSQL: "LISTEN \(channel)"))
            }
            self.connection = connection
        }
    }

    /// Waits up to `timeout` and returns the notifications heard (none when it timed out).
    public func next(timeout: Duration) async throws -> [PostgresConnection.Notification] {
        try await executor.run {
            try self.requireConnection().waitForNotifications(timeoutMilliseconds: Int(timeout.milliseconds))
        }
    }

    /// A round trip on the listening connection: throws when it is dead (a dropped NAT entry, a
    /// failover), so its owner stops trusting a listener that can no longer hear anything.
    public func ping(timeout: Duration) async throws {
        _ = try await executor.run(timeout: timeout) {
            try self.requireConnection().execute("SELECT 1")
        }
    }

    /// Queued rather than awaited: closing must happen even when the caller is cancelled (that is
    /// when shutdown calls it), and only after a body that is still waiting on the connection.
    public func close() {
        executor.enqueue { self.connection = nil }
    }

    private func requireConnection() throws -> PostgresConnection {
        guard let connection else {
            throw PostgresError(kind: .connection, message: "the listener is not connected")
        }
        return connection
    }
}
