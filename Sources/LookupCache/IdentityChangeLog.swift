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
    /// follower that had not read them knows it missed something. Idempotent and safe on every
    /// replica at once (housekeeping). Returns how many rows were deleted.
    public static func prune(olderThan retention: Duration = defaultRetention, on database: Database) async throws -> Int {
        let seconds = max(0, retention.seconds)
        return try await database.primary.withConnection { connection in
            let row = try connection.query(
                """
                WITH gone AS (
                    DELETE FROM identity_changes WHERE changed_at < now() - make_interval(secs => \(seconds)) RETURNING id
                ), horizon AS (
                    UPDATE identity_change_horizon SET pruned_through = GREATEST(pruned_through, (SELECT max(id) FROM gone))
                    WHERE EXISTS (SELECT 1 FROM gone)
                    RETURNING pruned_through
                )
                SELECT (SELECT count(*) FROM gone) AS removed
                """
            )[0]
            return try row.decode("removed", as: Int.self)
        }
    }
}
