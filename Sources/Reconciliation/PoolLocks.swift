import IdentityMap
import Postgres
import Support

/// The import's per-pool advisory locks (``BackfillImport/lockName(for:)``), taken in pool order
/// so two runs over overlapping pools cannot deadlock. Session-level rather than
/// transaction-level so they can be taken before a REPEATABLE READ transaction begins (its
/// snapshot must not predate an import that held them) and still cover the fix transaction.
enum PoolLocks {
    static func acquire(_ pools: [PoolID], policy: ReconcileLockPolicy, on connection: PostgresConnection) throws -> [String] {
        var held: [String] = []
        do {
            for pool in pools.sorted() {
                let name = BackfillImport.lockName(for: pool)
                switch policy {
                case .failFast:
                    let acquired: Bool = try connection.query("SELECT pg_try_advisory_lock(hashtext(\(name))) AS acquired")[0]
                        .decode("acquired")
                    guard acquired else {
                        throw ReconciliationError.busy("an import or another reconciliation is working on pool \(pool)")
                    }
                case .wait(let timeout):
                    do {
                        try withLockTimeout(timeout, on: connection) {
                            try connection.execute("SELECT pg_advisory_lock(hashtext(\(name)))")
                        }
                    } catch let error as PostgresError where error.isTimeout {
                        throw ReconciliationError.busy("timed out waiting for an import or reconciliation of pool \(pool)")
                    }
                }
                held.append(name)
            }
        } catch {
            release(held, on: connection)
            throw error
        }
        return held
    }

    /// `lock_timeout` bounds advisory-lock waits too, and the pool's job sessions set it to a
    /// minute: `--wait` must wait as long as it was told (nil: for as long as an import takes).
    /// The session's own value is put back afterwards, since the connection returns to the pool
    /// and the classification must not wait forever on a row lock.
    static func withLockTimeout<T>(_ timeout: Duration?, on connection: PostgresConnection, _ body: () throws -> T) throws -> T {
        let previous: String = try connection.query("SELECT current_setting('lock_timeout') AS value")[0].decode("value")
        let milliseconds = timeout.map { Int(max(1, $0.milliseconds)) } ?? 0
        try connection.execute("SELECT set_config('lock_timeout', \(String(milliseconds)), false)")
        defer { _ = try? connection.execute("SELECT set_config('lock_timeout', \(previous), false)") }
        return try body()
    }

    /// Best effort: a connection that broke has lost its session, and its locks with it.
    static func release(_ names: [String], on connection: PostgresConnection) {
        for name in names.reversed() {
            _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext(\(name)))")
        }
    }
}
