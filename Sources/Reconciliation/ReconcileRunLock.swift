import Postgres

/// The run-level lock: one run per scope at a time, taken before Cognito is called so that a
/// second invocation fails fast instead of reading a whole pool for nothing. A
/// ``SessionAdvisoryLock`` (its comment says why a session lock and not a row): a run killed
/// outright leaves nothing behind, and the next run then marks the dead run's row failed.
final class ReconcileRunLock: Sendable {
    private let session: SessionAdvisoryLock

    private init(session: SessionAdvisoryLock) {
        self.session = session
    }

    var name: String { session.name }

    /// `name` is hashed into the advisory key (`hashtext`), like the import's per-pool locks.
    static func acquire(
        name: String, configuration: PostgresClient.Configuration, policy: ReconcileLockPolicy
    ) async throws -> ReconcileRunLock {
        let wait: SessionAdvisoryLock.Wait
        switch policy {
        case .failFast: wait = .no
        case .wait(let timeout): wait = .upTo(timeout)
        }
        guard
            let session = try await SessionAdvisoryLock.acquire(
                name: name, configuration: configuration, applicationName: "stableid-reconcile", wait: wait)
        else { throw ReconciliationError.busy("another reconciliation of this scope is running") }
        return ReconcileRunLock(session: session)
    }

    /// Throws when the lock's session is gone (the server restarted, the network dropped): the
    /// lock went with it, and another run may have started, so this run must not commit.
    func verify() async throws {
        guard await session.isHeld() else { throw ReconciliationError.lockLost }
    }

    /// Unlocks and closes, even for a cancelled caller.
    func release() {
        session.release()
    }
}
