public import IdentityMap
import Postgres
import Support

/// The `change_feed` table that sql/0022 fills at each COMMIT: its NOTIFY channel and its pruning.
public enum ChangeFeedLog {
    /// Every commit that publishes changes NOTIFYs here once (an empty payload: a wake-up only).
    public static let channel = "stableid_changes"

    /// How long published changes are kept (`STABLEID_CHANGES_RETENTION_DAYS`, 7 by default): how
    /// long a consumer may stop reading and still resume from its cursor instead of re-syncing.
    public static let defaultRetention: Duration = .seconds(7 * 24 * 3600)

    /// Deletes the changes published more than `retention` ago and moves the horizon past them,
    /// so a cursor that had not read them answers 410 exactly. Batches of `batch` rows, each its
    /// own statement, by one server at a time (a try-lock: the others skip). Returns how many rows
    /// were deleted.
    ///
    /// The cut is the newest row published before the limit: every position up to it goes, every
    /// later one stays, so "older than the horizon" and "pruned" are the same positions.
    public static func prune(olderThan retention: Duration, batch: Int = 20_000, on database: Database) async throws -> Int {
        let seconds = max(0, retention.seconds)
        return try await database.primary.withConnection { connection in
            let locked: Bool = try connection.query("SELECT pg_try_advisory_lock(\(pruneLockKey)) AS locked")[0].decode("locked")
            guard locked else { return 0 }
            defer { _ = try? connection.execute("SELECT pg_advisory_unlock(\(pruneLockKey))") }
            let cut = try connection.query(
                """
                SELECT id FROM change_feed WHERE published_at < now() - make_interval(secs => \(seconds))
                ORDER BY published_at DESC LIMIT 1
                """
            ).first.map { try $0.decode("id", as: Int64.self) }
            guard let cut else { return 0 }
            var removed = 0
            while true {
                let count: Int = try connection.query(
                    """
                    WITH gone AS (
                        DELETE FROM change_feed WHERE id IN (
                            SELECT id FROM change_feed WHERE id <= \(cut) ORDER BY id LIMIT \(batch)
                        ) RETURNING id
                    ), horizon AS (
                        UPDATE change_feed_horizon SET pruned_through = GREATEST(pruned_through, (SELECT max(id) FROM gone))
                        WHERE EXISTS (SELECT 1 FROM gone)
                        RETURNING pruned_through
                    )
                    SELECT (SELECT count(*) FROM gone) AS removed
                    """
                )[0].decode("removed")
                removed += count
                if count < batch { return removed }
            }
        }
    }

    static let pruneLockKey: Int64 = 0x5374_6162_6c65_22
}
