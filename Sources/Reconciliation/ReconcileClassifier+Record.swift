import Foundation
import IdentityMap
import Postgres

/// Findings and their events: what was found is upserted, what was not seen resolved, the events
/// appended set-wise and the run marked completed, all in the classifying transaction.
extension ReconcileClassifier {
    /// Upserts what was found (new → open, resolved → open again, the rest keep their state and
    /// get the fresh evidence), resolves the scope's findings this run did not see, and appends
    /// `finding_opened` / `finding_resolved` set-wise. Findings touching a pool that was not
    /// judged (`unchecked`) are neither upserted nor resolved. Returns opened and resolved per kind.
    static func record(
        _ context: Context, unchecked: [String], on connection: PostgresConnection
    ) throws -> (opened: FindingCounts, resolved: FindingCounts) {
        try connection.execute(
            """
            CREATE TEMP TABLE recon_changes (
                finding_id bigint NOT NULL, kind text NOT NULL, subject text NOT NULL, pool_id text, sub text, user_id uuid,
                change text NOT NULL
            ) ON COMMIT DROP
            """
        )
        try upsertFound(context, unchecked: unchecked, on: connection)
        try resolveNotSeen(context, unchecked: unchecked, on: connection)
        try appendFindingEvents(context, on: connection)
        return try changeCounts(on: connection)
    }

    /// Upserts `recon_found` into `findings` and notes each row's change (`new`, `reopened`,
    /// `seen`) in `recon_changes`.
    static func upsertFound(_ context: Context, unchecked: [String], on connection: PostgresConnection) throws {
        let (run, scope, campaign) = (context.runID, context.scope.key, context.scope.campaignID)
        // Both halves see the findings as they were before the statement, so a row is either
        // updated or inserted, never both. `old` is the row before the update.
        try connection.execute(
            """
            WITH found AS (
                SELECT DISTINCT ON (kind, subject) * FROM recon_found r
                WHERE NOT \(fragment: touchesUnchecked(unchecked, alias: "r"))
                ORDER BY kind, subject
            ), updated AS (
                UPDATE findings f
                SET last_seen_run = \(run)::uuid, last_seen_at = now(), evidence = found.evidence,
                    pool_id = found.pool_id, sub = found.sub, user_id = found.user_id,
                    state = CASE WHEN f.state = 'resolved' THEN 'open' ELSE f.state END,
                    resolved_at = CASE WHEN f.state = 'resolved' THEN NULL ELSE f.resolved_at END,
                    ack_by = CASE WHEN f.state = 'resolved' THEN NULL ELSE f.ack_by END,
                    ack_reason = CASE WHEN f.state = 'resolved' THEN NULL ELSE f.ack_reason END,
                    ack_until = CASE WHEN f.state = 'resolved' THEN NULL ELSE f.ack_until END,
                    acknowledged_at = CASE WHEN f.state = 'resolved' THEN NULL ELSE f.acknowledged_at END
                FROM found, findings old
                WHERE f.scope = \(scope) AND f.kind = found.kind AND f.subject = found.subject AND old.id = f.id
                RETURNING f.id, f.kind, f.subject, f.pool_id, f.sub, f.user_id,
                          CASE WHEN old.state = 'resolved' THEN 'reopened' ELSE 'seen' END AS change
            ), inserted AS (
                INSERT INTO findings (kind, subject, scope, campaign_id, pool_id, sub, user_id, state, first_seen_run, last_seen_run,
                                      first_seen_at, last_seen_at, evidence)
                SELECT kind, subject, \(scope)::text, \(campaign)::uuid, pool_id, sub, user_id, 'open', \(run)::uuid, \(run)::uuid,
                       now(), now(), evidence
                FROM found
                WHERE NOT EXISTS (SELECT 1 FROM findings f WHERE f.scope = \(scope) AND f.kind = found.kind AND f.subject = found.subject)
                ORDER BY kind, subject
                RETURNING id, kind, subject, pool_id, sub, user_id, 'new'::text AS change
            )
            INSERT INTO recon_changes (finding_id, kind, subject, pool_id, sub, user_id, change)
            SELECT * FROM updated UNION ALL SELECT * FROM inserted
            """
        )
    }

    /// Resolves the scope's open or acknowledged findings this run did not see, noting them
    /// `resolved` in `recon_changes`.
    static func resolveNotSeen(_ context: Context, unchecked: [String], on connection: PostgresConnection) throws {
        let (run, scope) = (context.runID, context.scope.key)
        // Not seen by this run: resolved — except findings about a pool whose snapshot was not
        // trusted (see poolsNotJudged).
        try connection.execute(
            """
            WITH resolved AS (
                UPDATE findings f SET state = 'resolved', resolved_at = now()
                WHERE f.scope = \(scope) AND f.state IN ('open', 'acknowledged') AND f.last_seen_run <> \(run)
                  AND NOT \(fragment: touchesUnchecked(unchecked, alias: "f"))
                RETURNING f.id, f.kind, f.subject, f.pool_id, f.sub, f.user_id
            )
            INSERT INTO recon_changes (finding_id, kind, subject, pool_id, sub, user_id, change)
            SELECT id, kind, subject, pool_id, sub, user_id, 'resolved' FROM resolved
            """
        )
    }

    /// `finding_opened` for new and reopened findings, `finding_resolved` for resolved ones.
    static func appendFindingEvents(_ context: Context, on connection: PostgresConnection) throws {
        let (run, campaign) = (context.runID, context.scope.campaignID)
        try EventLog.appendAll(
            kind: FindingOpenedDetails.kind,
            fill: """
                INSERT INTO event_log_batch (ord, user_id, pool_id, sub, details, personal)
                SELECT finding_id, user_id, pool_id, sub, \(fragment: FindingOpenedDetails.sql(run: run, campaign: campaign)),
                       \(fragment: FindingEventSubject.personalSQL)
                FROM recon_changes WHERE change IN ('new', 'reopened')
                """,
            attribution: context.attribution,
            on: connection
        )
        try EventLog.appendAll(
            kind: FindingResolvedDetails.kind,
            fill: """
                INSERT INTO event_log_batch (ord, user_id, pool_id, sub, details, personal)
                SELECT finding_id, user_id, pool_id, sub, \(fragment: FindingResolvedDetails.sql(run: run, reason: .notSeen)),
                       \(fragment: FindingEventSubject.personalSQL)
                FROM recon_changes WHERE change = 'resolved'
                """,
            attribution: context.attribution,
            on: connection
        )
    }

    /// Opened (new or reopened) and resolved findings per kind, from `recon_changes`.
    static func changeCounts(on connection: PostgresConnection) throws -> (opened: FindingCounts, resolved: FindingCounts) {
        var opened = FindingCounts()
        var resolved = FindingCounts()
        for row in try connection.query(
            "SELECT kind, change, count(*) AS n FROM recon_changes WHERE change <> 'seen' GROUP BY kind, change"
        ) {
            guard let kind = FindingKind(rawValue: try row.decode("kind")) else { continue }
            let n: Int = try row.decode("n")
            if try row.decode("change", as: String.self) == "resolved" { resolved[kind] += n } else { opened[kind] += n }
        }
        return (opened, resolved)
    }

    /// Whether the finding aliased `alias` (columns `kind`, `pool_id`, `evidence`) is about a pool
    /// that was not judged: its own pool, or — for a shared-account duplicate, which has no pool —
    /// one of its members' pools.
    static func touchesUnchecked(_ unchecked: [String], alias: String) -> PostgresQuery {
        guard !unchecked.isEmpty else { return "false" }
        let pools = PostgresArray(unchecked)
        return """
            (coalesce(\(unescaped: alias).pool_id = ANY(\(pools)::text[]), false)
             OR (\(unescaped: alias).kind = 'duplicate' AND EXISTS (
                 SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(\(unescaped: alias).evidence->'members') = 'array'
                                                         THEN \(unescaped: alias).evidence->'members' END) m
                 WHERE m->>'pool' = ANY(\(pools)::text[]))))
            """
    }

    /// Marks the run completed and appends `reconcile_completed`, in the same transaction as its
    /// findings. A run whose row is no longer `running` lost its lock (a later run marked it
    /// failed): it must not commit.
    static func complete(
        _ context: Context, scanned: [String: Int], counts: FindingCounts, opened: FindingCounts, resolved: FindingCounts,
        warnings: [String], on connection: PostgresConnection
    ) throws -> Date {
        let (scannedJSON, countsJSON, openedJSON, resolvedJSON, warningsJSON) = (
            try PostgresJSON(encoding: scanned), try PostgresJSON(encoding: counts.dictionary),
            try PostgresJSON(encoding: opened.dictionary), try PostgresJSON(encoding: resolved.dictionary),
            try PostgresJSON(encoding: warnings)
        )
        let rows = try connection.query(
            """
            UPDATE reconcile_runs
            SET status = 'completed', finished_at = clock_timestamp(), scanned = \(scannedJSON)::jsonb, counts = \(countsJSON)::jsonb,
                opened = \(openedJSON)::jsonb, resolved = \(resolvedJSON)::jsonb, warnings = \(warningsJSON)::jsonb
            WHERE id = \(context.runID) AND status = 'running'
            RETURNING finished_at
            """
        )
        guard let row = rows.first else { throw ReconciliationError.lockLost }
        try EventLog.append(
            EventDraft(
                ReconcileCompletedDetails(
                    run: context.runID, scope: context.scope.key, campaign: context.scope.campaignID, source: context.source,
                    sources: context.sources, scanned: scanned, counts: counts, opened: opened, resolved: resolved,
                    warnings: warnings.count
                )
            ),
            attribution: context.attribution,
            on: connection
        )
        return try row.decode("finished_at")
    }
}
