import Foundation
import IdentityMap
import Postgres

/// The snapshot phase: the staged rows deduplicated into `recon_snap`, each pool's snapshot start,
/// and the pools not judged at all.
extension ReconcileClassifier {
    /// One row per (pool, sub), the first occurrence winning (ListUsers pages can overlap, files
    /// be concatenated). Returns users per pool (every scope pool, 0 included). Records whose sub
    /// is no UUID were never staged (``ReconciliationRun`` counts them).
    static func loadSnapshot(_ context: Context, on connection: PostgresConnection) throws -> [String: Int] {
        try connection.execute(
            """
            CREATE TEMP TABLE recon_snap ON COMMIT DROP AS
            SELECT DISTINCT ON (pool_id COLLATE "C", sub COLLATE "C")
                   pool_id, sub, username, email, email_normalized, email_verified, enabled, user_status,
                   provider, provider_user_id, nullif(btrim(stable_id_attr), '') AS stable_id_attr, stable_id_user, subset_match
            FROM reconcile_snapshot
            WHERE run_id = \(context.runID)
            -- Byte order (pools and subs are ASCII): the sort is memcmp instead of the locale's.
            ORDER BY pool_id COLLATE "C", sub COLLATE "C", seq
            """
        )
        try connection.execute("CREATE UNIQUE INDEX ON recon_snap (pool_id, sub)")
        // Temporary tables have no statistics until analysed; the joins below would plan blind.
        try connection.execute("ANALYZE recon_snap")
        var scanned = Dictionary(uniqueKeysWithValues: context.scope.pools.map { ($0.rawValue, 0) })
        for row in try connection.query("SELECT pool_id, count(*) AS n FROM recon_snap GROUP BY pool_id") {
            scanned[try row.decode("pool_id")] = try row.decode("n", as: Int.self)
        }
        return scanned
    }

    /// `snapshot_started (pool_id, started)`: when each pool's snapshot started, for the rules
    /// that must not judge an identity the map changed after that (see
    /// ``ReconcileRules/MissingIdentityEvidence/changedSinceSnapshot``). The fix transaction loads
    /// it again (temporary tables end with their transaction).
    static func loadSnapshotStarts(_ starts: [String: Date], on connection: PostgresConnection) throws {
        try connection.execute(
            "CREATE TEMP TABLE IF NOT EXISTS snapshot_started (pool_id text PRIMARY KEY, started timestamptz NOT NULL) ON COMMIT DROP"
        )
        let pools = starts.keys.sorted()
        try connection.execute(
            """
            INSERT INTO snapshot_started (pool_id, started)
            SELECT * FROM unnest(\(PostgresArray(pools))::text[], \(PostgresArray(pools.compactMap { starts[$0] }))::timestamptz[])
            """
        )
    }

    /// An empty snapshot of a pool the map has live identities in is far more likely a wrong file
    /// or a failed read than a pool whose every user was deleted. Such a pool is not judged: its
    /// identities are not called orphaned, and every finding about it is left as it is (neither
    /// resolved nor reopened — see ``touchesUnchecked(_:alias:)``), so one bad read does not wipe
    /// the acknowledgements of a whole pool.
    static func poolsNotJudged(
        _ context: Context, scanned: [String: Int], warnings: inout [String], on connection: PostgresConnection
    ) throws -> [String] {
        let empty = scanned.filter { $0.value == 0 }.map(\.key).sorted()
        guard !empty.isEmpty else { return [] }
        var unchecked: [String] = []
        for row in try connection.query(
            """
            SELECT pool_id, count(*) AS n FROM identities
            WHERE pool_id = ANY(\(PostgresArray(empty))::text[]) AND status IN ('active', 'disabled')
            GROUP BY pool_id ORDER BY pool_id
            """
        ) {
            let pool: String = try row.decode("pool_id")
            let live: Int = try row.decode("n")
            unchecked.append(pool)
            warnings.append(
                "pool \(pool): the snapshot has no users but the map has \(live) live identities; "
                    + "the pool was not judged and its findings were left as they are"
            )
        }
        return unchecked
    }
}
