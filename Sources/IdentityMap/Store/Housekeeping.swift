public import Foundation
import Postgres

/// Removes what must not outlive its purpose: stored idempotent answers past their retention
/// (they replay user JSON with emails and usernames), pending links no trigger honours any more
/// (a username and the person it leads to), and import staging and reconciliation snapshot rows
/// whose run died before it could clean up (a killed `stableid import` or `stableid reconcile`
/// leaves emails and usernames there), or whose run can no longer be resumed, and report sessions
/// that can no longer be used (``ReportSessionStore``).
public struct Housekeeping: Sendable {
    public let database: Database
    /// Staging rows of a run older than this belong to a run that is gone (imports take minutes).
    public static let stagingLifetime: Duration = .seconds(24 * 3600)
    /// How long a reconciliation snapshot is kept after its run stopped `running`. A run commits
    /// `completed` with its findings and only then applies `--fix` in a second transaction that
    /// reads the snapshot again; the run deletes its rows itself when the fixes end. Rows still
    /// there this long after the run finished belong to a process that died between the two.
    public static let finishedSnapshotGrace: Duration = .seconds(3600)
    /// How long after its start a live reconciliation that failed while reading may be resumed
    /// (`stableid reconcile --resume`), its snapshot and progress kept meanwhile: Cognito does not
    /// document how long its pagination tokens live, and a snapshot older than a day would judge
    /// today's map against yesterday's pools. Housekeeping keeps such a snapshot a grace period
    /// longer, so a resume accepted just before the limit does not lose its rows.
    public static let resumableSnapshotLifetime: Duration = .seconds(24 * 3600)
    /// How long a pending link left by the Migrate-user trigger leads its username's next sign-in
    /// to its person. A password migration is completed within seconds, but one that arrives
    /// `RESET_REQUIRED` (forgot password, a temporary password, an MFA user) waits until the user
    /// resets it, which may be days later, and no Migrate-user trigger fires again for them. Only
    /// the target user Cognito created from that migration can use it (its exact username), so a
    /// longer life widens nothing; older links are ignored (`TriggerService.evidence`) and
    /// deleted here.
    public static let pendingLinkLifetime: Duration = .seconds(30 * 24 * 3600)

    public init(database: Database) {
        self.database = database
    }

    public struct Removed: Sendable, Equatable {
        public var idempotencyKeys: Int
        public var stagingRows: Int
        /// Pending links older than ``Housekeeping/pendingLinkLifetime``.
        public var pendingLinks: Int
        /// Report sessions signed out, expired, idle too long or of a revoked token.
        public var reportSessions: Int
    }

    /// `column` (a run id, a UUIDv7: its first 48 bits are the run's start in Unix milliseconds)
    /// names a run that started more than `lifetimeSeconds` ago. `column` is code-chosen SQL.
    static func runStartedBefore(lifetimeSeconds: Int, column: StaticString) -> PostgresQuery {
        """
        ('x' || substr(replace(\(unescaped: column.description)::text, '-', ''), 1, 12))::bit(48)::bigint
            < (extract(epoch FROM now()) * 1000)::bigint - \(lifetimeSeconds)::bigint * 1000
        """
    }

    /// The reconciliation runs whose snapshot and progress rows stay. A run deletes its rows itself
    /// when it ends, and no run takes a day; a run that finished is given a grace period, because
    /// its fixes still read the snapshot after `completed` is committed. A live run with progress
    /// rows may be resumed: failed, it keeps them for ``resumableSnapshotLifetime`` (plus the
    /// grace) from its start; running, for ``stagingLifetime`` after the last page it staged (a
    /// killed run stops staging, so its users' data goes a day after it died).
    static func reconcileRunsKept() -> PostgresQuery {
        let grace = Int(finishedSnapshotGrace.components.seconds)
        let lifetime = Int(stagingLifetime.components.seconds)
        let resumable = Int(resumableSnapshotLifetime.components.seconds)
        return """
            SELECT r.id FROM reconcile_runs r
            WHERE CASE
                WHEN EXISTS (SELECT 1 FROM reconcile_progress p WHERE p.run_id = r.id) THEN
                    CASE WHEN r.status = 'failed'
                        THEN NOT (\(fragment: runStartedBefore(lifetimeSeconds: resumable + grace, column: "r.id")))
                        -- Running: kept while it staged a page within the staging lifetime (a killed
                        -- run stops staging); finished: for the grace period.
                        ELSE (r.status = 'running'
                              AND (SELECT max(p.updated_at) FROM reconcile_progress p WHERE p.run_id = r.id)
                                  > now() - make_interval(secs => \(lifetime)))
                            OR r.finished_at > now() - make_interval(secs => \(grace))
                    END
                ELSE (r.status = 'running' OR r.finished_at > now() - make_interval(secs => \(grace)))
                    AND NOT (\(fragment: runStartedBefore(lifetimeSeconds: lifetime, column: "r.id")))
            END
            """
    }

    public func run() async throws -> Removed {
        let retention = Int(IdempotencyKey.retention.components.seconds)
        let lifetime = Int(Self.stagingLifetime.components.seconds)
        let pendingLinkLifetime = Int(Self.pendingLinkLifetime.components.seconds)
        return try await database.primary.withConnection { connection in
            let keys = try connection.execute(
                "DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => \(retention))"
            )
            let staging = try connection.execute(
                "DELETE FROM import_staging WHERE \(fragment: Self.runStartedBefore(lifetimeSeconds: lifetime, column: "run_id"))"
            )
            // A snapshot outlives its run only when the process was killed, or when a live run
            // failed while reading and kept what it read to be resumed (it has progress rows).
            let kept = Self.reconcileRunsKept()
            let snapshots = try connection.execute("DELETE FROM reconcile_snapshot WHERE run_id NOT IN (\(fragment: kept))")
            let progress = try connection.execute("DELETE FROM reconcile_progress WHERE run_id NOT IN (\(fragment: kept))")
            // The complement of what the trigger still honours (`created_at > now() - lifetime`).
            let pendingLinks = try connection.execute(
                "DELETE FROM pending_links WHERE created_at <= now() - make_interval(secs => \(pendingLinkLifetime))")
            let sessions = try ReportSessionStore.purge(on: connection)
            return Removed(
                idempotencyKeys: keys, stagingRows: staging + snapshots + progress, pendingLinks: pendingLinks, reportSessions: sessions)
        }
    }
}
