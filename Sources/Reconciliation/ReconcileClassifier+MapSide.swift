import Foundation
import IdentityMap
import Postgres

/// The map's side: identities the snapshot lacks, people left without a live identity, and
/// people with several active identities in one pool, judged page by page.
extension ReconcileClassifier {
    /// Live identities of the judged pools whose sub the snapshot lacks, with whether the map
    /// linked or changed them after the pool's snapshot started (then the rule does not judge).
    static func judgeMissingIdentities(_ context: Context, unchecked: [String], on connection: PostgresConnection) throws {
        let pools = context.scope.pools.map(\.rawValue).filter { !unchecked.contains($0) }
        try connection.execute(
            """
            CREATE TEMP TABLE recon_missing_ids ON COMMIT DROP AS
            SELECT i.pool_id, i.sub, i.user_id, i.status, i.username, greatest(i.linked_at, i.updated_at) >= st.started AS changed
            FROM identities i JOIN snapshot_started st ON st.pool_id = i.pool_id
            WHERE i.pool_id = ANY(\(PostgresArray(pools))::text[]) AND i.status IN ('active', 'disabled')
              AND NOT EXISTS (SELECT 1 FROM recon_snap s WHERE s.pool_id = i.pool_id AND s.sub = i.sub)
            """
        )
        // Whether a missing identity's user was deleted and created again: a snapshot user of the
        // pool under the same username (case-insensitively, as Cognito's default pools treat
        // usernames) with another sub. The snapshot is indexed for that only when some identity
        // is missing at all (usually none are, and the index costs as much as the rest).
        let anyMissing = try connection.query("SELECT EXISTS (SELECT 1 FROM recon_missing_ids) AS any")[0].decode("any", as: Bool.self)
        if anyMissing { try connection.execute("CREATE INDEX ON recon_snap (pool_id, lower(username))") }
        try connection.execute(
            """
            CREATE TEMP TABLE recon_missing ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY m.pool_id, m.sub) AS n, m.pool_id, m.sub, m.user_id, m.status,
                   -- No ORDER BY: the planner would walk the pool's users in sub order to satisfy it.
                   (SELECT g.sub FROM recon_snap g
                    WHERE g.pool_id = m.pool_id AND lower(g.username) = lower(m.username) AND g.sub <> m.sub
                    LIMIT 1) AS replaced_by,
                   m.changed
            FROM recon_missing_ids m
            """
        )
        try judge(table: "recon_missing", on: connection) { row in
            guard let status = IdentityStatus(rawValue: try row.decode("status")) else { throw malformed }
            let evidence = ReconcileRules.MissingIdentityEvidence(
                pool: try poolID(try row.decode("pool_id")), sub: try row.decode("sub"), person: try row.decode("user_id"),
                status: status, replacedBySub: try row.decodeIfPresent("replaced_by"), changedSinceSnapshot: try row.decode("changed")
            )
            return [ReconcileRules.classify(evidence)].compactMap { $0 }
        }
    }

    /// Active people with an identity in the scope and no live identity anywhere.
    static func judgePeople(_ context: Context, on connection: PostgresConnection) throws {
        let pools = PostgresArray(context.scope.pools.map(\.rawValue))
        try connection.execute(
            """
            CREATE TEMP TABLE recon_people ON COMMIT DROP AS
            -- A person with no live identity left has only dead ones, so the candidates are the
            -- owners of the scope's few dead identities, not every person in the scope.
            SELECT row_number() OVER (ORDER BY u.id) AS n, u.id AS user_id, 0::bigint AS live
            FROM users u
            WHERE u.status = 'active'
              AND u.id IN (SELECT user_id FROM identities
                           WHERE pool_id = ANY(\(pools)::text[]) AND status NOT IN ('active', 'disabled'))
              AND NOT EXISTS (SELECT 1 FROM identities l WHERE l.user_id = u.id AND l.status IN ('active', 'disabled'))
            """
        )
        try judge(table: "recon_people", on: connection) { row in
            let evidence = ReconcileRules.PersonEvidence(person: try row.decode("user_id"), liveIdentities: try row.decode("live"))
            return [ReconcileRules.classify(evidence)].compactMap { $0 }
        }
    }

    /// People with two or more active identities in one pool of the scope.
    static func judgePoolDuplicates(_ context: Context, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            CREATE TEMP TABLE recon_pool_duplicates ON COMMIT DROP AS
            SELECT row_number() OVER (ORDER BY user_id, pool_id) AS n, user_id, pool_id, array_agg(sub ORDER BY sub) AS subs
            FROM identities
            WHERE pool_id = ANY(\(PostgresArray(context.scope.pools.map(\.rawValue)))::text[]) AND status = 'active'
            GROUP BY user_id, pool_id
            HAVING count(*) > 1
            """
        )
        try judge(table: "recon_pool_duplicates", on: connection) { row in
            let evidence = ReconcileRules.PoolIdentitiesEvidence(
                person: try row.decode("user_id"), pool: try poolID(try row.decode("pool_id")), activeSubs: try row.decode("subs")
            )
            return [ReconcileRules.classify(evidence)].compactMap { $0 }
        }
    }
}
