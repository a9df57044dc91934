import Foundation
import IdentityMap
import Postgres

/// The SQL of `campaign cleanup`: which source users have a person in the target (with what the
/// rules need), and the `cleanup_users` rows that make a run resumable. The map itself is written
/// only through ``IdentitySetWrites``; findings are only read (``FinalizeStore/holdFindings(scope:)``).
struct CleanupStore: Sendable {
    let database: Database

    /// Which source identities ``candidates(campaign:mode:olderThan:_:)`` reads.
    enum Selection: Sendable {
        /// The next page, in identity order: how a run finds its users.
        case page(after: Int64, limit: Int)
        /// One identity again, right before its Cognito call (``CleanupRules/recheck(_:planned:source:mode:inSubset:)``).
        case identity(Int64)
    }

    /// Source identities (of `mode`'s statuses) whose active person has an active identity in
    /// the target: for each, the target identity that signed in first (else the first linked),
    /// whether that sign-in is at least `olderThan` seconds old on the database's clock, whether
    /// the member file lists it, the person's open `duplicate` / `conflict` findings
    /// (``FinalizeStore/holdFindings(scope:)``) and the identity's `cleanup_users` row. The one
    /// query of who may be cleaned: a page of it plans, one identity of it re-checks. Always on
    /// the primary: a replica behind it would miss a finding opened a moment ago.
    func candidates(
        campaign: Campaign, mode: CleanupMode, olderThan: TimeInterval, _ selection: Selection
    ) async throws
        -> [CleanupCandidate]
    {
        let sources = PostgresArray(campaign.sources.map(\.pool.rawValue))
        let statuses = PostgresArray(mode.fromStatuses.map(\.rawValue))
        let listed: PostgresQuery =
            campaign.subset?.hasMemberFile == true
            ? CampaignSubsetStore.listed(campaign: campaign.id, pool: "si.pool_id", sub: "si.sub", username: "si.username") : "true"
        let holds = FinalizeStore.holdFindings(scope: FinalizeStore.scope(of: campaign.id))
        let range: PostgresQuery
        let order: PostgresQuery
        switch selection {
        case .page(let after, let limit):
            range = "si.id > \(after)"
            order = "ORDER BY si.id LIMIT \(limit)"
        case .identity(let identity):
            range = "si.id = \(identity)"
            order = ""
        }
        let rows = try await database.primary.withConnection { connection in
            try connection.query(
                """
                WITH holds AS MATERIALIZED (
                    SELECT f.person, array_agg(DISTINCT f.kind ORDER BY f.kind) AS kinds,
                           array_agg(f.finding::text ORDER BY f.finding) AS findings
                    FROM (\(fragment: holds)) f
                    GROUP BY f.person
                )
                SELECT si.id AS identity_id, si.pool_id, si.sub, si.username, s.id AS person,
                       t.linked_at AS target_linked_at, t.first_signed_in_at,
                       coalesce(t.first_signed_in_at <= now() - make_interval(secs => \(olderThan)::double precision), false)
                           AS signed_in_long_enough,
                       \(fragment: listed) AS listed,
                       cu.state AS row_state, cu.mode AS row_mode, cu.updated_at AS row_updated_at,
                       hd.kinds AS hold_kinds, hd.findings AS hold_findings
                FROM identities si
                JOIN users su ON su.id = si.user_id
                JOIN users s ON s.id = \(fragment: Person.survivor(of: "su"))
                CROSS JOIN LATERAL (
                    SELECT ti.linked_at, g.first_signed_in_at FROM identities ti
                    LEFT JOIN identity_sign_ins g ON g.identity_id = ti.id
                    WHERE ti.pool_id = \(campaign.target.rawValue) AND ti.status = 'active'
                      AND ti.user_id IN \(fragment: FinalizeStore.idsOf("s.id"))
                    ORDER BY g.first_signed_in_at ASC NULLS LAST, ti.linked_at, ti.id
                    LIMIT 1
                ) t
                LEFT JOIN cleanup_users cu ON cu.campaign_id = \(campaign.id) AND cu.identity_id = si.id
                LEFT JOIN holds hd ON hd.person = s.id
                WHERE si.pool_id = ANY(\(sources)::text[]) AND si.status = ANY(\(statuses)::text[]) AND s.status = 'active'
                  AND \(fragment: range)
                \(fragment: order)
                """
            )
        }
        return try rows.map { row in
            let person: UUID = try row.decode("person")
            let kinds = try row.decodeIfPresent("hold_kinds", as: [String].self) ?? []
            let findings = try row.decodeIfPresent("hold_findings", as: [String].self) ?? []
            return CleanupCandidate(
                identity: try row.decode("identity_id"), pool: try PoolStoreQueries.poolID(try row.decode("pool_id")),
                sub: try row.decode("sub"), username: try row.decode("username"), person: person,
                targetLinkedAt: try row.decode("target_linked_at"), firstSignIn: try row.decodeIfPresent("first_signed_in_at"),
                signedInLongEnough: try row.decode("signed_in_long_enough"), listed: try row.decode("listed"),
                rowState: try row.decodeIfPresent("row_state", as: String.self).flatMap(CleanupRowState.init(rawValue:)),
                rowMode: try row.decodeIfPresent("row_mode", as: String.self).flatMap(CleanupMode.init(rawValue:)),
                rowUpdatedAt: try row.decodeIfPresent("row_updated_at"),
                hold: kinds.isEmpty ? nil : FinalizeHold(person: person, reasons: kinds, findings: findings.compactMap { Int64($0) })
            )
        }
    }

    /// A row an interrupted run left `cleaning`, with what settling it needs.
    struct Interrupted: Sendable {
        var identity: Int64
        var person: UUID
        var pool: PoolID
        var sub: String
        var mode: CleanupMode
        /// The source identity's username now; nil once erased (never looked up).
        var username: String?
    }

    /// Rows left `cleaning`, after identity `after`.
    func interrupted(campaign: UUID, after: Int64, limit: Int) async throws -> [Interrupted] {
        let rows = try await database.primary.withConnection { connection in
            try connection.query(
                """
                SELECT r.identity_id, r.user_id, r.pool_id, r.sub, r.mode,
                       CASE WHEN i.username LIKE 'erased:%' THEN NULL ELSE i.username END AS username
                FROM cleanup_users r JOIN identities i ON i.id = r.identity_id
                WHERE r.campaign_id = \(campaign) AND r.state = 'cleaning' AND r.identity_id > \(after)
                ORDER BY r.identity_id LIMIT \(limit)
                """
            )
        }
        return try rows.map { row in
            Interrupted(
                identity: try row.decode("identity_id"), person: try row.decode("user_id"),
                pool: try PoolStoreQueries.poolID(try row.decode("pool_id")), sub: try row.decode("sub"),
                mode: CleanupMode(rawValue: try row.decode("mode")) ?? .disable, username: try row.decodeIfPresent("username")
            )
        }
    }

    /// How many rows are `cleaning`: an earlier run stopped between writing one and finishing it.
    func interruptedCount(campaign: UUID) async throws -> Int {
        try await database.primary.withConnection { connection in
            try connection.query("SELECT count(*) AS n FROM cleanup_users WHERE campaign_id = \(campaign) AND state = 'cleaning'")[0]
                .decode("n")
        }
    }

    /// Writes the user's row `cleaning` before its Cognito call: a new row, a `failed` one taken up
    /// again, or a `done` disable that `--mode delete` now deletes. False when the row is in any
    /// other state (another run has the user, or it is done).
    func claim(_ candidate: CleanupCandidate, mode: CleanupMode, campaign: UUID) async throws -> Bool {
        try await database.primary.withConnection { connection in
            !(try connection.query(
                """
                INSERT INTO cleanup_users AS r (campaign_id, identity_id, user_id, pool_id, sub, mode, state, attempts)
                VALUES (\(campaign), \(candidate.identity), \(candidate.person), \(candidate.pool.rawValue), \(candidate.sub),
                        \(mode.rawValue), 'cleaning', 1)
                ON CONFLICT (campaign_id, identity_id) DO UPDATE
                    SET state = 'cleaning', mode = EXCLUDED.mode, user_id = EXCLUDED.user_id, attempts = r.attempts + 1,
                        last_error = NULL, updated_at = now()
                    WHERE r.state = 'failed' OR (r.state = 'done' AND r.mode = 'disable' AND EXCLUDED.mode = 'delete')
                RETURNING r.identity_id
                """
            ).isEmpty)
        }
    }

    /// Cognito disabled (deleted) the user: the identity takes its new status, with its
    /// `identity_status_changed` event naming the campaign, and the row becomes `done`, in one
    /// transaction. False when the row is no longer `cleaning` (nothing written).
    func complete(
        identity: Int64, pool: PoolID, sub: String, mode: CleanupMode, campaign: UUID, attribution: Attribution
    ) async throws -> Bool {
        try await database.primary.transaction { connection in
            let state = try connection.query(
                "SELECT state FROM cleanup_users WHERE campaign_id = \(campaign) AND identity_id = \(identity) FOR UPDATE"
            ).first?.decode("state", as: String.self)
            guard state == CleanupRowState.cleaning.rawValue else { return false }
            try IdentitySetWrites.recordPoolStatus(
                pool: pool, sub: sub, to: mode.identityStatus, reason: SourceCleanup.reason, campaign: campaign, attribution: attribution,
                on: connection)
            try connection.execute(
                """
                UPDATE cleanup_users SET state = 'done', mode = \(mode.rawValue), last_error = NULL, updated_at = now()
                WHERE campaign_id = \(campaign) AND identity_id = \(identity)
                """
            )
            return true
        }
    }

    /// Leaves the row `failed` with a code (an AWS error type or the clean-up's own, never a message).
    func markFailed(identity: Int64, campaign: UUID, code: String) async throws {
        let code = String(code.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "_.:-".contains($0)) }.prefix(80))
        _ = try await database.primary.withConnection { connection in
            try connection.execute(
                """
                UPDATE cleanup_users SET state = 'failed', last_error = \(code.isEmpty ? "unknown" : code), updated_at = now()
                WHERE campaign_id = \(campaign) AND identity_id = \(identity)
                """
            )
        }
    }
}
