import Foundation
import Postgres
import Support

/// The run-level lock: one run per scope at a time, taken before Cognito is called so that a
/// second invocation fails fast instead of reading a whole pool for nothing.
///
/// A session-level advisory lock on a connection of its own, held from the start of the run to
/// its end. Chosen over a `running` row with a unique partial index because the lock dies with
/// its session: a run killed by cron's timeout, the OOM killer or a reboot leaves nothing behind
/// to expire, and the next run starts at once (it then marks the dead run's row failed). A pooled
/// connection cannot hold it: a lease never spans an `await`, and a run awaits Cognito for minutes.
///
/// `@unchecked Sendable`: the connection is only touched by bodies on the lock's own executor.
final class ReconcileRunLock: @unchecked Sendable {
    private let executor = BlockingExecutor(label: "stableid.reconcile-lock")
    private var connection: PostgresConnection?
    let name: String

    private init(name: String) {
        self.name = name
    }

    /// `name` is hashed into the advisory key (`hashtext`), like the import's per-pool locks.
    static func acquire(
        name: String, configuration: PostgresClient.Configuration, policy: ReconcileLockPolicy
    ) async throws -> ReconcileRunLock {
        let lock = ReconcileRunLock(name: name)
        try await lock.executor.runToCompletion {
            var session = configuration.session
            if case .wait(let timeout) = policy {
                session.lockTimeoutMilliseconds = timeout.map { Int(max(1, $0.milliseconds)) } ?? 0
            }
            let connection = try PostgresConnection.connect(
                conninfo: configuration.conninfo, applicationName: "stableid-reconcile",
                connectTimeoutSeconds: configuration.connectTimeoutSeconds, session: session
            )
            let busy = ReconciliationError.busy("another reconciliation of this scope is running")
            switch policy {
            case .failFast:
                let acquired: Bool = try connection.query("SELECT pg_try_advisory_lock(hashtext(\(name))) AS acquired")[0]
                    .decode("acquired")
                guard acquired else { throw busy }
            case .wait:
                do {
                    try connection.execute("SELECT pg_advisory_lock(hashtext(\(name)))")
                } catch let error as PostgresError where error.isTimeout {
                    throw busy
                }
            }
            lock.connection = connection
        }
        return lock
    }

    /// Throws when the lock's session is gone (the server restarted, the network dropped): the
    /// lock went with it, and another run may have started, so this run must not commit.
    func verify() async throws {
        try await executor.runToCompletion {
            guard let connection = self.connection, connection.isHealthy else { throw ReconciliationError.lockLost }
            do {
                try connection.execute("SELECT 1")
            } catch {
                throw ReconciliationError.lockLost
            }
        }
    }

    /// Unlocks and closes. Queued rather than awaited, so it happens even for a cancelled caller,
    /// after any body still using the connection.
    func release() {
        executor.enqueue {
            if let connection = self.connection, connection.isHealthy {
                _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext(\(self.name)))")
            }
            self.connection = nil
        }
    }
}
