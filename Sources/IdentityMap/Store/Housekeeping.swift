public import Foundation
import Postgres

/// Removes what must not outlive its purpose: stored idempotent answers past their retention
/// (they replay user JSON with emails and usernames), and import staging and reconciliation
/// snapshot rows whose run died before it could clean up (a killed `stableid import` or
/// `stableid reconcile` leaves emails and usernames there).
public struct Housekeeping: Sendable {
    public let database: Database
    /// Staging rows of a run older than this belong to a run that is gone (imports take minutes).
    public static let stagingLifetime: Duration = .seconds(24 * 3600)
    /// How long a reconciliation snapshot is kept after its run stopped `running`. A run commits
    /// `completed` with its findings and only then applies `--fix` in a second transaction that
    /// reads the snapshot again; the run deletes its rows itself when the fixes end. Rows still
    /// there this long after the run finished belong to a process that died between the two.
    public static let finishedSnapshotGrace: Duration = .seconds(3600)

    public init(database: Database) {
        self.database = database
    }

    public struct Removed: Sendable, Equatable {
        public var idempotencyKeys: Int
        public var stagingRows: Int
    }

    /// `column` (a run id, a UUIDv7: its first 48 bits are the run's start in Unix milliseconds)
    /// names a run that started more than `lifetimeSeconds` ago. `column` is code-chosen SQL.
    static func runStartedBefore(lifetimeSeconds: Int, column: StaticString) -> PostgresQuery {
        """
        ('x' || substr(replace(\(unescaped: column.description)::text, '-', ''), 1, 12))::bit(48)::bigint
            < (extract(epoch FROM now()) * 1000)::bigint - \(lifetimeSeconds)::bigint * 1000
        """
    }

    public func run() async throws -> Removed {
        let retention = Int(IdempotencyKey.retention.components.seconds)
        let lifetime = Int(Self.stagingLifetime.components.seconds)
        return try await database.primary.withConnection { connection in
            let keys = try connection.execute(
                "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => \(retention))"
            )
            let staging = try connection.execute(
                "DELETE FROM import_staging WHERE \(fragment: Self.runStartedBefore(lifetimeSeconds: lifetime, column: "run_id"))"
            )
            // A snapshot outlives its run only when the process was killed: a run deletes its rows
            // when it ends, and no run takes a day. A run that finished is given a grace period,
            // because its fixes still read the snapshot after `completed` is committed.
            let grace = Int(Self.finishedSnapshotGrace.components.seconds)
            let snapshots = try connection.execute(
                """
                DELETE FROM reconcile_snapshot s
                WHERE NOT EXISTS (
                          SELECT 1 FROM reconcile_runs r
                          WHERE r.id = s.run_id
                            AND (r.status = 'running' OR r.finished_at > now() - make_interval(secs => \(grace))))
                   OR \(fragment: Self.runStartedBefore(lifetimeSeconds: lifetime, column: "s.run_id"))
                """
            )
            return Removed(idempotencyKeys: keys, stagingRows: staging + snapshots)
        }
    }
}
