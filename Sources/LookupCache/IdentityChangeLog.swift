public import IdentityMap
import Postgres
import Support

/// The `identity_changes` log that `sql/0007` fills and followers read: its NOTIFY channel and
/// its pruning.
public enum IdentityChangeLog {
    /// Every commit that publishes changes NOTIFYs here once (an empty payload: a wake-up only).
    public static let channel = "stableid_identity_changes"

    /// How long published changes are kept. A follower only needs rows it has not read yet; the
    /// retention is how long one may be disconnected (or a replica may lag) and still catch up
    /// by reading the log instead of warming up again. It must stay far above
    /// ``LookupCache/Configuration/maxGapAge``, so a late row is never pruned before it is read.
    public static let defaultRetention: Duration = .seconds(600)

    /// Deletes changes older than `retention` and moves the prune horizon past them, so a
    /// follower that had not read them knows it missed something. Batches of `batch` rows, each
    /// its own statement (well inside the service's statement timeout after a million-row import),
    /// by one server at a time (a try-lock: the others skip). Returns how many rows were deleted.
    public static func prune(
        olderThan retention: Duration = defaultRetention, batch: Int = 20_000, on database: Database
    ) async throws -> Int {
        let seconds = max(0, retention.seconds)
        return try await database.primary.withConnection { connection in
            let locked: Bool = try connection.query("SELECT pg_try_advisory_lock(\(pruneLockKey)) AS locked")[0].decode("locked")
            guard locked else { return 0 }
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(pruneLockKey))") }
            var removed = 0
            while true {
                let row = try connection.query(
                    """
                    WITH gone AS (
                        DELETE FROM identity_changes WHERE id IN (
                            SELECT id FROM identity_changes WHERE changed_at < now() - make_interval(secs => \(seconds))
                            ORDER BY id LIMIT \(batch)
                        ) RETURNING id
                    ), horizon AS (
                        UPDATE identity_change_horizon SET pruned_through = GREATEST(pruned_through, (SELECT max(id) FROM gone))
                        WHERE EXISTS (SELECT 1 FROM gone)
                        RETURNING pruned_through
                    )
                    SELECT (SELECT count(*) FROM gone) AS removed
                    """
                )[0]
                let count = try row.decode("removed", as: Int.self)
                removed += count
                if count < batch { return removed }
            }
        }
    }

    static let pruneLockKey: Int64 = 0x5374_6162_6c65_07
}
