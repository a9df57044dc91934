public import Foundation
public import IdentityMap
public import Postgres

/// The SQL of `campaign finalize`: who the campaign still has to move (its latest reconciliation's
/// `unmigrated` findings, checked against the map as it is now), who is held back, and the
/// `finalize_users` rows that make a run resumable. The map itself is written only through
/// ``IdentityMapStore``.
///
/// Findings are Reconciliation's (which builds on this module): they are only read here, with the
/// same rule for an acknowledgement past its `ack_until` (it counts as open again: ``FindingOpenRule``).
public struct FinalizeStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The campaign's latest completed reconciliation.
    public struct ReconcileRun: Sendable, Equatable {
        public var run: UUID
        public var finishedAt: Date
    }

    /// `open`, or acknowledged until a time that has passed (``FindingOpenRule``), for alias `alias`.
    static func isOpen(_ alias: StaticString) -> PostgresQuery { FindingOpenRule.isOpen(alias) }

    /// Every user id of the person `person` (an expression naming a survivor's id): the survivor
    /// and the users merged into it, one hop (``Person/survivor(of:)``).
    static func idsOf(_ person: StaticString) -> PostgresQuery {
        "(SELECT id FROM users WHERE id = \(unescaped: person.description) OR merged_into = \(unescaped: person.description))"
    }

    static func scope(of campaign: UUID) -> String { "campaign:\(campaign.uuidString.lowercased())" }

    public func latestReconciliation(campaign: UUID) async throws -> ReconcileRun? {
        let scope = Self.scope(of: campaign)
        return try await database.reader.withConnection { connection in
            try connection.query(
                """
                SELECT id, finished_at FROM reconcile_runs
                WHERE scope = \(scope) AND status = 'completed' ORDER BY finished_at DESC, id DESC LIMIT 1
                """
            ).first.map { ReconcileRun(run: try $0.decode("id"), finishedAt: try $0.decode("finished_at")) }
        }
    }

    /// The rule of who is held back: one row per person (`person`, the survivor) and open
    /// `duplicate` or `conflict` finding of the campaign scope `scope` naming them (`finding`,
    /// `kind`) — as its user, among the people sharing an account, or as the person whose id a
    /// stable-ID attribute carries. Finalize reads it whole (``holds(campaign:)``); the clean-up
    /// joins it to each page of candidates and to each user it re-checks right before the
    /// Cognito call (``CleanupStore``), so both ask the same question.
    static func holdFindings(scope: String) -> PostgresQuery {
        """
        SELECT DISTINCT s.id AS person, h.id AS finding, h.kind
        FROM findings h
        CROSS JOIN LATERAL (
            SELECT h.user_id AS id WHERE h.user_id IS NOT NULL
            UNION
            SELECT e.value::uuid FROM jsonb_array_elements_text(
                CASE WHEN jsonb_typeof(h.evidence->'users') = 'array' THEN h.evidence->'users' ELSE '[]'::jsonb END) e (value)
             WHERE e.value ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
            UNION
            SELECT (h.evidence->>'attribute_user')::uuid
             WHERE h.evidence->>'attribute_user' ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        ) named
        JOIN users u ON u.id = named.id
        JOIN users s ON s.id = \(fragment: Person.survivor(of: "u"))
        WHERE h.scope = \(scope) AND h.kind IN ('duplicate', 'conflict') AND \(fragment: isOpen("h"))
        """
    }

    /// People with an open `duplicate` or `conflict` finding of the campaign, by survivor
    /// (``holdFindings(scope:)``). Few (each is a case for a person), so held in memory for a run.
    public func holds(campaign: UUID) async throws -> [UUID: FinalizeHold] {
        let scope = Self.scope(of: campaign)
        let rows = try await database.reader.withConnection { connection in
            try connection.query("\(fragment: Self.holdFindings(scope: scope)) ORDER BY person, finding")
        }
        var holds: [UUID: FinalizeHold] = [:]
        for row in rows {
            let person: UUID = try row.decode("person")
            var hold = holds[person] ?? FinalizeHold(person: person, reasons: [])
            let kind: String = try row.decode("kind")
            if !hold.reasons.contains(kind) { hold.reasons.append(kind) }
            hold.findings.append(try row.decode("finding"))
            holds[person] = hold
        }
        return holds
    }

    /// A page of the unmigrated set after finding `after`: each person once, from their lowest
    /// open `unmigrated` finding of the campaign, with the map's answer now.
    func candidates(campaign: Campaign, after: Int64, limit: Int) async throws -> [FinalizeCandidate] {
        let scope = Self.scope(of: campaign.id)
        let rows = try await database.primary.withConnection { connection in
            try connection.query(
                """
                SELECT f.id AS finding, s.id AS person, f.pool_id, f.sub, si.username AS source_username,
                       EXISTS (SELECT 1 FROM identities t WHERE t.pool_id = \(campaign.target.rawValue) AND t.status = 'active'
                                AND t.user_id IN \(fragment: Self.idsOf("s.id"))) AS in_target,
                       fu.state AS row_state, fu.mode AS row_mode, fu.target_username AS row_username, fu.target_sub AS row_sub,
                       fu.source_pool AS row_source_pool, fu.source_sub AS row_source_sub, fu.last_error AS row_error
                FROM findings f
                JOIN users u ON u.id = f.user_id
                JOIN users s ON s.id = \(fragment: Person.survivor(of: "u"))
                LEFT JOIN LATERAL (
                    SELECT i.username FROM identities i JOIN users iu ON iu.id = i.user_id
                    WHERE i.pool_id = f.pool_id AND i.sub = f.sub AND i.status = 'active'
                      AND \(fragment: Person.survivor(of: "iu")) = s.id
                ) si ON true
                LEFT JOIN LATERAL (
                    SELECT * FROM finalize_users r WHERE r.campaign_id = \(campaign.id) AND r.user_id IN \(fragment: Self.idsOf("s.id"))
                    ORDER BY r.updated_at DESC LIMIT 1
                ) fu ON true
                WHERE f.campaign_id = \(campaign.id) AND f.scope = \(scope) AND f.kind = 'unmigrated' AND f.id > \(after)
                  AND \(fragment: Self.isOpen("f")) AND s.status = 'active'
                  AND NOT EXISTS (
                      SELECT 1 FROM findings o
                      WHERE o.user_id IN \(fragment: Self.idsOf("s.id")) AND o.scope = \(scope) AND o.kind = 'unmigrated'
                        AND o.id < f.id AND \(fragment: Self.isOpen("o")))
                ORDER BY f.id
                LIMIT \(limit)
                """
            )
        }
        return try rows.map { row in
            let person: UUID = try row.decode("person")
            return FinalizeCandidate(
                finding: try row.decode("finding"), person: person,
                sourcePool: try PoolStoreQueries.poolID(try row.decode("pool_id")), sourceSub: try row.decode("sub"),
                sourceUsername: try row.decodeIfPresent("source_username"), inTarget: try row.decode("in_target"),
                record: try Self.record(row, prefix: "row_", person: person)
            )
        }
    }

    /// A `finalize_users` row from columns named `<prefix>state`, `<prefix>mode`, …; nil when absent.
    static func record(_ row: PostgresRow, prefix: String, person: UUID) throws -> FinalizeRecord? {
        guard let stateText = try row.decodeIfPresent(prefix + "state", as: String.self),
            let state = FinalizeRecord.State(rawValue: stateText),
            let mode = FinalizeMode(rawValue: try row.decode(prefix + "mode"))
        else { return nil }
        return FinalizeRecord(
            person: person, sourcePool: try PoolStoreQueries.poolID(try row.decode(prefix + "source_pool")),
            sourceSub: try row.decode(prefix + "source_sub"), mode: mode, state: state,
            targetUsername: try row.decodeIfPresent(prefix + "username"), targetSub: try row.decodeIfPresent(prefix + "sub"),
            lastError: try row.decodeIfPresent(prefix + "error")
        )
    }

    /// Rows of `state` (for `--resume`: `creating`), by person, after `after`.
    func records(
        campaign: UUID, state: FinalizeRecord.State, mode: FinalizeMode? = nil, after: UUID?, limit: Int
    ) async throws
        -> [FinalizeRecord]
    {
        let rows = try await database.primary.withConnection { connection in
            try connection.query(
                """
                SELECT user_id, state AS row_state, mode AS row_mode, target_username AS row_username, target_sub AS row_sub,
                       source_pool AS row_source_pool, source_sub AS row_source_sub, last_error AS row_error
                FROM finalize_users
                WHERE campaign_id = \(campaign) AND state = \(state.rawValue)
                  AND (\(mode?.rawValue)::text IS NULL OR mode = \(mode?.rawValue))
                  AND (\(after)::uuid IS NULL OR user_id > \(after)::uuid)
                ORDER BY user_id LIMIT \(limit)
                """
            )
        }
        return try rows.compactMap { try Self.record($0, prefix: "row_", person: try $0.decode("user_id")) }
    }

    /// `--resend`: invitations of the campaign Cognito sent (or last resent) at least `olderThan`
    /// seconds ago, by person, after `after`. Rows an erasure scrubbed have no username and are
    /// never resent.
    func invitations(campaign: UUID, olderThan: TimeInterval, after: UUID?, limit: Int) async throws -> [FinalizeRecord] {
        let rows = try await database.primary.withConnection { connection in
            try connection.query(
                """
                SELECT user_id, state AS row_state, mode AS row_mode, target_username AS row_username, target_sub AS row_sub,
                       source_pool AS row_source_pool, source_sub AS row_source_sub, last_error AS row_error
                FROM finalize_users
                WHERE campaign_id = \(campaign) AND state = 'created' AND mode = 'invite'
                  AND target_username IS NOT NULL AND target_sub IS NOT NULL
                  AND coalesce(resent_at, invited_at) <= now() - make_interval(secs => \(olderThan)::double precision)
                  AND (\(after)::uuid IS NULL OR user_id > \(after)::uuid)
                ORDER BY user_id LIMIT \(limit)
                """
            )
        }
        return try rows.compactMap { try Self.record($0, prefix: "row_", person: try $0.decode("user_id")) }
    }

    /// How many rows are `creating`: an earlier run stopped between writing them and finishing them.
    func interruptedCount(campaign: UUID) async throws -> Int {
        try await database.primary.withConnection { connection in
            try connection.query(
                "SELECT count(*) AS n FROM finalize_users WHERE campaign_id = \(campaign) AND state = 'creating'"
            )[0].decode("n")
        }
    }
}
