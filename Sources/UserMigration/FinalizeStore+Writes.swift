public import Foundation
public import IdentityMap
import Postgres

// The writes of `finalize_users`, and the one write of the map finalize makes: linking the target
// identity it created, in the same transaction as the row that says so.
extension FinalizeStore {
    /// Writes `record` as `creating` before its AdminCreateUser: a new row, or a `failed` one taken
    /// up again. False when the person's row is in any other state (another run has them).
    func claim(_ record: FinalizeRecord, campaign: UUID) async throws -> Bool {
        try await database.primary.withConnection { connection in
            !(try connection.query(
                """
                INSERT INTO finalize_users (campaign_id, user_id, source_pool, source_sub, mode, state, target_username, attempts)
                VALUES (\(campaign), \(record.person), \(record.sourcePool.rawValue), \(record.sourceSub), \(record.mode.rawValue),
                        'creating', \(record.targetUsername), 1)
                ON CONFLICT (campaign_id, user_id) DO UPDATE
                    SET state = 'creating', source_pool = EXCLUDED.source_pool, source_sub = EXCLUDED.source_sub, mode = EXCLUDED.mode,
                        target_username = EXCLUDED.target_username, attempts = finalize_users.attempts + 1, last_error = NULL,
                        updated_at = now()
                    WHERE finalize_users.state = 'failed'
                RETURNING user_id
                """
            ).isEmpty)
        }
    }

    /// Links the created (or found) target user to the person and marks the row `created`, in one
    /// transaction: the `identity_linked` event (via `invite`/`passwordless`, the campaign) and the
    /// row commit together, so a run killed at any point leaves either both or neither. False when
    /// the row is no longer `creating` (another run finished it first; nothing written).
    func complete(
        _ record: FinalizeRecord, campaign: UUID, identity: NewIdentity, invited: Bool, attribution: Attribution
    ) async throws -> Bool {
        let store = IdentityMapStore(database: database)
        return try await database.primary.transaction { connection in
            let state = try connection.query(
                "SELECT state FROM finalize_users WHERE campaign_id = \(campaign) AND user_id = \(record.person) FOR UPDATE"
            ).first?.decode("state", as: String.self)
            guard state == FinalizeRecord.State.creating.rawValue else { return false }
            // Cognito keeps usernames unique: an identity of the target still holding this one
            // belongs to a user deleted there since.
            try IdentitySetWrites.retireReusedUsername(identity, attribution: attribution, on: connection)
            _ = try store.linkIdentity(identity, to: record.person, attribution: attribution).run(inTransactionOn: connection)
            try connection.execute(
                """
                UPDATE finalize_users SET state = 'created', target_sub = \(identity.sub), last_error = NULL, updated_at = now(),
                    invited_at = CASE WHEN \(invited)::boolean THEN now() ELSE invited_at END
                WHERE campaign_id = \(campaign) AND user_id = \(record.person)
                """
            )
            return true
        }
    }

    /// Leaves the person's row `held` or `failed` with a code (an AWS error type or finalize's own,
    /// never a message).
    func mark(_ person: UUID, campaign: UUID, _ state: FinalizeRecord.State, code: String) async throws {
        let code = String(code.filter { $0.isASCII && ($0.isLetter || $0.isNumber || "_.:-".contains($0)) }.prefix(80))
        _ = try await database.primary.withConnection { connection in
            try connection.execute(
                """
                UPDATE finalize_users SET state = \(state.rawValue), last_error = \(code.isEmpty ? "unknown" : code), updated_at = now()
                WHERE campaign_id = \(campaign) AND user_id = \(person)
                """
            )
        }
    }

    func markResent(_ person: UUID, campaign: UUID) async throws {
        _ = try await database.primary.withConnection { connection in
            try connection.execute(
                "UPDATE finalize_users SET resent_at = now(), updated_at = now() WHERE campaign_id = \(campaign) AND user_id = \(person)"
            )
        }
    }

    /// One CSV batch of a source pool's users (`subs`, in the batch's order) against the unmigrated
    /// set: the users that are in it, by position in `subs`. One statement per batch, so memory
    /// stays one batch whatever the pool's size.
    func csvDecisions(campaign: Campaign, pool: PoolID, subs: [String]) async throws -> [Int: FinalizeCSVDecision] {
        let scope = Self.scope(of: campaign.id)
        let positions = PostgresArray(Array(0..<subs.count))
        let rows = try await database.reader.withConnection { connection in
            try connection.query(
                """
                SELECT b.ord, s.id AS person,
                       EXISTS (SELECT 1 FROM identities t WHERE t.pool_id = \(campaign.target.rawValue) AND t.status = 'active'
                                AND t.user_id IN \(fragment: Self.idsOf("s.id"))) AS in_target,
                       EXISTS (SELECT 1 FROM identities i JOIN users iu ON iu.id = i.user_id
                                WHERE i.pool_id = f.pool_id AND i.sub = f.sub AND i.status = 'active'
                                  AND \(fragment: Person.survivor(of: "iu")) = s.id) AS source_active,
                       NOT EXISTS (
                           SELECT 1 FROM findings o
                           WHERE o.user_id IN \(fragment: Self.idsOf("s.id")) AND o.scope = \(scope) AND o.kind = 'unmigrated'
                             AND o.id < f.id AND \(fragment: Self.isOpen("o"))) AS chosen
                FROM unnest(\(positions)::int[], \(PostgresArray(subs))::text[]) AS b (ord, sub)
                JOIN findings f ON f.pool_id = \(pool.rawValue) AND f.sub = b.sub AND f.scope = \(scope) AND f.kind = 'unmigrated'
                JOIN users u ON u.id = f.user_id
                JOIN users s ON s.id = \(fragment: Person.survivor(of: "u"))
                WHERE \(fragment: Self.isOpen("f")) AND s.status = 'active'
                """
            )
        }
        var decisions: [Int: FinalizeCSVDecision] = [:]
        for row in rows {
            decisions[try row.decode("ord")] = FinalizeCSVDecision(
                person: try row.decode("person"), inTarget: try row.decode("in_target"),
                sourceActive: try row.decode("source_active"), chosen: try row.decode("chosen")
            )
        }
        return decisions
    }

    /// Whether finalize has taken the person whose source identity is `(source, sub)` into the
    /// target: an active identity there, or a `creating`/`created` row of the campaign. The
    /// Migrate-user trigger then answers as for an unknown user, so Cognito never makes the person
    /// a second account.
    static func alreadyInTarget(source: PoolID, sub: String, campaign: Campaign, on connection: PostgresConnection) throws -> Bool {
        try connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM identities src
                JOIN users su ON su.id = src.user_id
                JOIN users s ON s.id = \(fragment: Person.survivor(of: "su"))
                WHERE src.pool_id = \(source.rawValue) AND src.sub = \(sub)
                  AND (EXISTS (SELECT 1 FROM identities t WHERE t.pool_id = \(campaign.target.rawValue) AND t.status = 'active'
                                AND t.user_id IN \(fragment: idsOf("s.id")))
                       OR EXISTS (SELECT 1 FROM finalize_users r WHERE r.campaign_id = \(campaign.id)
                                   AND r.state IN ('creating', 'created') AND r.user_id IN \(fragment: idsOf("s.id"))))
            ) AS taken
            """
        )[0].decode("taken")
    }
}
