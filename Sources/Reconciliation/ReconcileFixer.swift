import Foundation
import IdentityMap
import Postgres

/// `--fix`: applies the safe fixes to the open findings this run saw, in one transaction after
/// the classification committed (the snapshot is still staged; the pool locks are still held).
/// Every change to an identity has its event, naming the finding it fixes; every fixed finding is
/// resolved with `finding_resolved` (`reason: fixed`) and the fix recorded in its evidence.
///
/// Each update is a compare-and-set on what the finding was computed from, and on the identity
/// not having been linked or changed (`linked_at`, `updated_at`) since its pool's snapshot
/// started: the snapshot cannot speak for a change it may predate, so an identity a trigger
/// touched meanwhile is left alone and its finding stays open for the next run to judge afresh.
enum ReconcileFixer {
    struct Context: Sendable {
        var runID: UUID
        var scope: ReconcileScope
        var database: Database
        var attribution: Attribution
        /// Pool → when its snapshot started (database time).
        var snapshotStarted: [String: Date]
    }

    /// The identity aliased `alias` is unchanged since its pool's snapshot started (needs
    /// `snapshot_started`; a pool without a start never qualifies).
    static func unchangedSinceSnapshot(_ alias: String) -> PostgresQuery {
        """
        greatest(\(unescaped: alias).linked_at, \(unescaped: alias).updated_at)
            < (SELECT st.started FROM snapshot_started st WHERE st.pool_id = \(unescaped: alias).pool_id)
        """
    }

    /// Thrown inside the transaction to roll a dry run back while keeping its report.
    struct DryRun: Error {
        var report: FixReport
    }

    static func fix(_ request: FixRequest, _ context: Context, on connection: PostgresConnection) throws -> FixReport {
        var report = FixReport(dryRun: !request.apply)
        try ReconcileClassifier.loadSnapshotStarts(context.snapshotStarted, on: connection)
        let open = try openFindings(context, kinds: request.kinds, on: connection)
        try connection.execute(
            """
            CREATE TEMP TABLE fix_resolved (
                finding_id bigint NOT NULL, kind text NOT NULL, subject text NOT NULL, pool_id text, sub text, user_id uuid,
                fix text NOT NULL
            ) ON COMMIT DROP
            """
        )
        var fixed: [FindingKind: Int] = [:]
        var listings: [String] = []
        if request.kinds.contains(.stale) {
            fixed[.stale] = try fixStale(context, on: connection)
            listings.append(
                """
                SELECT finding, 'stale' AS kind, 'refresh' AS action, pool_id, sub, user_id,
                       concat_ws(', ', CASE WHEN email_changed THEN 'email' END, CASE WHEN verified_changed THEN 'email_verified' END,
                                 CASE WHEN old_status <> status THEN old_status || ' → ' || status END) AS detail
                FROM fix_stale WHERE applied
                """
            )
        }
        if request.kinds.contains(.orphaned) {
            fixed[.orphaned] = try fixOrphaned(context, maxShare: request.maxOrphanedShare, warnings: &report.warnings, on: connection)
            listings.append(
                """
                SELECT finding, 'orphaned' AS kind, 'mark_deleted' AS action, pool_id, sub, user_id, old_status || ' → deleted' AS detail
                FROM fix_orphaned WHERE applied
                """
            )
        }
        if request.kinds.contains(.unmapped) {
            fixed[.unmapped] = try fixUnmapped(context, warnings: &report.warnings, on: connection)
            listings.append(
                """
                SELECT finding, 'unmapped' AS kind, 'link' AS action, pool_id, sub, person AS user_id, NULL::text AS detail
                FROM fix_unmapped WHERE applied
                """
            )
        }
        let resolvedDetails = FindingResolvedDetails.sql(run: context.runID, reason: .fixed, fixColumn: "fix")
        try EventLog.appendAll(
            kind: FindingResolvedDetails.kind,
            fill: """
                INSERT INTO event_log_batch (ord, user_id, pool_id, sub, details, personal)
                SELECT finding_id, user_id, pool_id, sub, \(fragment: resolvedDetails), \(fragment: FindingEventSubject.personalSQL)
                FROM fix_resolved
                """,
            attribution: context.attribution,
            on: connection
        )
        for kind in request.kinds.sorted() {
            let done = fixed[kind] ?? 0
            report.outcomes[kind.rawValue] = FixReport.Outcome(fixed: done, skipped: max(0, (open[kind] ?? 0) - done))
        }
        let actions = try connection.query(
            PostgresQuery(unsafeSQL: listings.joined(separator: "\nUNION ALL\n") + "\nORDER BY finding LIMIT \(FixReport.maxActions + 1)")
        )
        report.actionsTruncated = actions.count > FixReport.maxActions
        report.actions = try actions.prefix(FixReport.maxActions).map { row -> FixAction in
            guard let kind = FindingKind(rawValue: try row.decode("kind")) else { throw ReconcileClassifier.malformed }
            return FixAction(
                finding: try row.decode("finding"), kind: kind, action: try row.decode("action"), pool: try row.decodeIfPresent("pool_id"),
                sub: try row.decodeIfPresent("sub"), userID: try row.decodeIfPresent("user_id"),
                detail: try row.decodeIfPresent("detail", as: String.self).flatMap { $0.isEmpty ? nil : $0 }
            )
        }
        return report
    }

    /// Open findings per kind that this run saw: what a fix could at most resolve.
    static func openFindings(_ context: Context, kinds: Set<FindingKind>, on connection: PostgresConnection) throws -> [FindingKind: Int] {
        var counts: [FindingKind: Int] = [:]
        for row in try connection.query(
            """
            SELECT f.kind, count(*) AS n FROM findings f
            WHERE f.scope = \(context.scope.key) AND f.last_seen_run = \(context.runID)
              AND f.kind = ANY(\(PostgresArray(kinds.map(\.rawValue)))::text[]) AND \(unescaped: FindingSQL.effectiveState) = 'open'
            GROUP BY f.kind
            """
        ) {
            if let kind = FindingKind(rawValue: try row.decode("kind")) { counts[kind] = try row.decode("n") }
        }
        return counts
    }

    /// The findings of `kind` this fix may act on (open, seen by this run), as a SQL condition on `f`.
    static func fixable(_ kind: FindingKind, _ context: Context) -> PostgresQuery {
        """
        f.scope = \(context.scope.key) AND f.kind = \(kind.rawValue) AND f.last_seen_run = \(context.runID)
        AND \(unescaped: FindingSQL.effectiveState) = 'open'
        """
    }

    // MARK: stale → refresh from the pool

    static func fixStale(_ context: Context, on connection: PostgresConnection) throws -> Int {
        let run = context.runID
        // What the pool says, next to what the map had when the fix looked (the compare-and-set
        // below only writes rows that still hold those values and that nothing changed since the
        // snapshot started: the pool's record would overwrite a newer one). An address the map
        // would refuse is stored as no address, as everywhere else.
        try connection.execute(
            """
            CREATE TEMP TABLE fix_stale ON COMMIT DROP AS
            SELECT x.*, x.email IS DISTINCT FROM x.old_email AS email_changed, x.email_verified <> x.old_verified AS verified_changed
            FROM (
                SELECT f.id AS finding, i.id AS identity_id, i.user_id, i.pool_id, i.sub, i.status AS old_status,
                       i.email AS old_email, i.email_verified AS old_verified,
                       CASE WHEN s.email_normalized IS NULL THEN NULL ELSE s.email END AS email, s.email_normalized,
                       (s.email_verified AND s.email_normalized IS NOT NULL) AS email_verified,
                       CASE WHEN s.enabled THEN 'active' ELSE 'disabled' END AS status,
                       false AS applied
                FROM findings f
                JOIN identities i ON i.pool_id = f.pool_id AND i.sub = f.sub
                JOIN LATERAL (
                    SELECT r.* FROM reconcile_snapshot r
                    WHERE r.run_id = \(run) AND r.pool_id = f.pool_id AND r.sub = f.sub ORDER BY r.seq LIMIT 1
                ) s ON true
                WHERE \(fragment: fixable(.stale, context)) AND i.status IN ('active', 'disabled', 'deleted')
                  AND \(fragment: unchangedSinceSnapshot("i"))
                  -- Never copy personal data back onto a person whose data was erased (the erasure
                  -- did not reach the pool: that is for a person to sort out, not a fix).
                  AND NOT EXISTS (SELECT 1 FROM events e WHERE e.user_id = i.user_id AND e.kind = 'personal_data_erased')
            ) x
            """
        )
        try IdentitySetWrites.refreshFromPool(
            listedIn: "fix_stale", reason: "reconcile: status taken from the pool", run: run, condition: unchangedSinceSnapshot("i"),
            attribution: context.attribution, on: connection
        )
        return try resolve(table: "fix_stale", fix: "refresh", context, on: connection)
    }

    // MARK: orphaned → mark the identity deleted

    /// The share guard ignores a handful of orphans: in a small pool a few deleted users are a
    /// large share and no sign of a bad snapshot.
    static let minimumHeldBack = 10

    static func fixOrphaned(
        _ context: Context, maxShare: Double, warnings: inout [String], on connection: PostgresConnection
    ) throws -> Int {
        let run = context.runID
        try connection.execute(
            """
            CREATE TEMP TABLE fix_orphaned ON COMMIT DROP AS
            SELECT f.id AS finding, i.id AS identity_id, i.user_id, i.pool_id, i.sub, i.status AS old_status, false AS applied
            FROM findings f
            JOIN identities i ON i.pool_id = f.pool_id AND i.sub = f.sub
            WHERE \(fragment: fixable(.orphaned, context)) AND f.sub IS NOT NULL AND i.status IN ('active', 'disabled')
              AND \(fragment: unchangedSinceSnapshot("i"))
              AND NOT EXISTS (SELECT 1 FROM reconcile_snapshot s WHERE s.run_id = \(run) AND s.pool_id = f.pool_id AND s.sub = f.sub)
            """
        )
        var heldBack: [String] = []
        for row in try connection.query(
            """
            SELECT x.pool_id, count(*) AS n,
                   (SELECT count(*) FROM identities i WHERE i.pool_id = x.pool_id AND i.status IN ('active', 'disabled')) AS live
            FROM fix_orphaned x GROUP BY x.pool_id ORDER BY x.pool_id
            """
        ) {
            let (pool, n, live): (String, Int, Int) = (try row.decode("pool_id"), try row.decode("n"), try row.decode("live"))
            if n > minimumHeldBack, Double(n) > maxShare * Double(live) {
                heldBack.append(pool)
                warnings.append(
                    "pool \(pool): \(n) of \(live) live identities look orphaned, more than the allowed share; none were marked deleted"
                )
            }
        }
        if !heldBack.isEmpty {
            try connection.execute("DELETE FROM fix_orphaned WHERE pool_id = ANY(\(PostgresArray(heldBack))::text[])")
        }
        // Re-checked on the row being updated: a trigger that linked or touched the identity after
        // the snapshot started (a user created while ListUsers was paging) keeps it alive.
        try IdentitySetWrites.markDeleted(
            listedIn: "fix_orphaned", reason: "reconcile: the Cognito user no longer exists", run: run,
            condition: unchangedSinceSnapshot("i"), attribution: context.attribution, on: connection
        )
        return try resolve(table: "fix_orphaned", fix: "mark_deleted", context, on: connection)
    }

    // MARK: unmapped → link to the person the attribute names

    /// Links through the identity map's own write (its `identity_linked` event, its rules), one
    /// user at a time under a savepoint: a user the map refuses (its username taken meanwhile, say)
    /// is skipped without undoing the others.
    ///
    /// A person gets at most one identity in the target pool this way. When two unmapped target
    /// users name the same person, nothing says which one is theirs: neither is linked (both count
    /// as skipped, with a warning) and someone must decide.
    static func fixUnmapped(_ context: Context, warnings: inout [String], on connection: PostgresConnection) throws -> Int {
        guard let target = context.scope.target else { return 0 }
        let run = context.runID
        // `link_to` is set by ReconcileRules.linkTarget: the person the stable-ID attribute names
        // (`attribute_user`, a survivor), when corroborated. Rivals are counted over every unmapped
        // user of the pool this run saw whose attribute names that person — corroborated or not,
        // acknowledged or not: each is a second Cognito user claiming to be them.
        try connection.execute(
            """
            CREATE TEMP TABLE fix_unmapped ON COMMIT DROP AS
            WITH candidates AS (
                SELECT c.id, count(*) OVER (PARTITION BY c.evidence->>'attribute_user') AS naming
                FROM findings c
                WHERE c.scope = \(context.scope.key) AND c.kind = 'unmapped' AND c.last_seen_run = \(run)
                  AND c.pool_id = \(target.rawValue) AND c.evidence->>'attribute_user' IS NOT NULL
            )
            SELECT row_number() OVER (ORDER BY f.id) AS n, f.id AS finding, (f.evidence->>'link_to')::uuid AS person,
                   candidates.naming > 1 AS ambiguous,
                   s.pool_id, s.sub, s.username, s.email, s.email_verified, s.provider, s.provider_user_id, false AS applied
            FROM findings f
            JOIN candidates ON candidates.id = f.id
            JOIN LATERAL (
                SELECT r.* FROM reconcile_snapshot r
                WHERE r.run_id = \(run) AND r.pool_id = f.pool_id AND r.sub = f.sub ORDER BY r.seq LIMIT 1
            ) s ON true
            WHERE \(fragment: fixable(.unmapped, context)) AND f.evidence->>'link_to' IS NOT NULL
            """
        )
        try connection.execute("CREATE INDEX ON fix_unmapped (n)")
        let ambiguous: Int = try connection.query("SELECT count(*) AS n FROM fix_unmapped WHERE ambiguous")[0].decode("n")
        if ambiguous > 0 {
            warnings.append(
                "\(ambiguous) unmapped users of pool \(target) were not linked: another unmapped user names the same person"
            )
        }
        let store = IdentityMapStore(database: context.database)
        var after = 0
        while true {
            let rows = try connection.query(
                "SELECT * FROM fix_unmapped WHERE n > \(after) AND NOT ambiguous ORDER BY n LIMIT \(ReconcileClassifier.pageSize)"
            )
            guard let last = rows.last else { break }
            for row in rows {
                let finding: Int64 = try row.decode("finding")
                guard
                    let identity = try? NewIdentity(
                        pool: target, sub: try row.decode("sub"), username: try row.decode("username"),
                        email: try row.decodeIfPresent("email", as: String.self).flatMap(EmailAddress.valid),
                        emailVerified: try row.decode("email_verified"), provider: try row.decodeIfPresent("provider"), via: .invite,
                        campaignID: context.scope.campaignID, federatedUserID: try row.decodeIfPresent("provider_user_id")
                    )
                else { continue }
                let person: UUID = try row.decode("person")
                try connection.execute("SAVEPOINT reconcile_fix_link")
                do {
                    // Checked here, right before the link, rather than when the table was built:
                    // a trigger may have linked the person in the pool since.
                    guard try !hasLiveIdentity(person, in: target, on: connection) else { throw AlreadyInPool() }
                    let linked = try store.linkIdentity(identity, to: person, attribution: context.attribution)
                        .run(inTransactionOn: connection)
                    try connection.execute("RELEASE SAVEPOINT reconcile_fix_link")
                    try connection.execute("UPDATE fix_unmapped SET applied = true, person = \(linked) WHERE finding = \(finding)")
                } catch {
                    try connection.execute("ROLLBACK TO SAVEPOINT reconcile_fix_link")
                }
            }
            after = try last.decode("n")
            if rows.count < ReconcileClassifier.pageSize { break }
        }
        return try resolve(table: "fix_unmapped", fix: "link", context, on: connection, userColumn: "person")
    }

    /// The person (its survivor, if the ID was merged since) already has a live identity in the
    /// pool; a second would make them two Cognito users there.
    private struct AlreadyInPool: Error {}

    static func hasLiveIdentity(_ person: UUID, in pool: PoolID, on connection: PostgresConnection) throws -> Bool {
        try connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM identities t
                WHERE t.pool_id = \(pool.rawValue) AND t.status IN ('active', 'disabled')
                  AND t.user_id = (SELECT \(fragment: Person.survivor(of: "u")) FROM users u WHERE u.id = \(person))
            ) AS taken
            """
        )[0].decode("taken")
    }

    // MARK: Resolving what was fixed

    /// Resolves the findings whose row in `table` was applied, records the fix in their evidence,
    /// and queues them for the `finding_resolved` events. Returns how many.
    static func resolve(
        table: String, fix: String, _ context: Context, on connection: PostgresConnection, userColumn: String = "user_id"
    ) throws -> Int {
        try connection.execute(
            """
            WITH done AS (
                UPDATE findings f SET state = 'resolved', resolved_at = now(),
                    evidence = f.evidence || jsonb_build_object(
                        'fixed', jsonb_build_object('run', \(context.runID)::text, 'action', \(fix)::text,
                                                    'user', x.\(unescaped: userColumn)))
                FROM \(unescaped: table) x
                WHERE f.id = x.finding AND x.applied
                RETURNING f.id, f.kind, f.subject, f.pool_id, f.sub, f.user_id
            )
            INSERT INTO fix_resolved (finding_id, kind, subject, pool_id, sub, user_id, fix)
            SELECT id, kind, subject, pool_id, sub, user_id, \(fix)::text FROM done
            """
        )
    }
}
