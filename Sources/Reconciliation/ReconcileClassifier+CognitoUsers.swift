import Foundation
import IdentityMap
import Postgres
import UserMigration

/// The snapshot's side: Cognito users some rule could fire for, judged page by page.
extension ReconcileClassifier {
    /// Snapshot users that some rule could fire for (the prefilter is a superset of every rule in
    /// `ReconcileRules.classify(_: CognitoUserEvidence)`; clean users never leave the database).
    static func judgeCognitoUsers(_ context: Context, on connection: PostgresConnection) throws {
        let sources = PostgresArray(context.scope.sources.map(\.rawValue))
        let target = context.scope.target?.rawValue
        let attributeNeedsProof = context.scope.trust.attributeWritable
        let usernamesAreAdministrators = !context.scope.trust.selfSignUp
        // Two steps: the facts every user needs come from set-wise joins (hash joins over the
        // whole snapshot), and only users some rule could fire for get the per-row probes —
        // corroboration of the stable-ID attribute and the deleted-and-recreated check.
        try connection.execute(
            """
            CREATE TEMP TABLE recon_cognito ON COMMIT DROP AS
            WITH migrated_people AS (
                SELECT DISTINCT user_id FROM identities WHERE pool_id = \(target)::text AND status = 'active'
            ), elsewhere_people AS (
                \(fragment: elsewherePeople(context))
            ), candidates AS MATERIALIZED (
                \(fragment: cognitoCandidates(context))
            )
            SELECT row_number() OVER (ORDER BY c.pool_id, c.sub) AS n,
                   c.pool_id, c.sub, c.username, c.email, c.email_normalized, c.email_verified, c.enabled, c.user_status,
                   c.provider, c.provider_user_id, c.stable_id_attr, c.map_status, c.map_email, c.map_email_normalized,
                   c.map_email_verified, c.person, c.person_status, c.map_changed, c.migrated, c.in_subset, c.elsewhere_pools,
                   c.attribute_person, c.attribute_status,
                   -- Whether the attribute can be trusted, by the triggers' rule (TriggerLinkRules,
                   -- docs/SECURITY.md): on its own when no app client can write it; otherwise only
                   -- when proof of control names the same person (the same email verified on both
                   -- sides, not a federated user's, the verified email as a source username, the
                   -- same federated account), or the same username where only administrators choose
                   -- usernames (no self sign-up). A username anyone could have chosen is no proof.
                   CASE WHEN c.attribute_person IS NOT NULL THEN NOT \(attributeNeedsProof) OR EXISTS (
                       SELECT 1 FROM identities o
                       WHERE o.user_id = c.attribute_person AND o.status IN ('active', 'disabled') AND o.pool_id <> c.pool_id
                         AND (cardinality(\(sources)::text[]) = 0 OR o.pool_id = ANY(\(sources)::text[]))
                         AND ((\(usernamesAreAdministrators) AND lower(o.username) = lower(c.username))
                              OR (c.email_verified AND c.provider_user_id IS NULL AND c.email_normalized IS NOT NULL
                                  AND ((o.email_verified AND o.email_normalized = c.email_normalized)
                                       OR lower(o.username) = c.email_normalized))
                              OR (c.provider_user_id IS NOT NULL AND o.provider = c.provider
                                  AND o.federated_user_id = c.provider_user_id))
                   ) END AS attribute_corroborated,
                   prev.sub AS previous_sub, prev.user_id AS previous_user
            FROM candidates c
            -- An unmapped user whose username a live identity of the pool still holds, under a
            -- sub the pool no longer has: deleted and created again. Usernames compare
            -- case-insensitively, as in the corroboration above and in Cognito's default pools.
            LEFT JOIN LATERAL (
                SELECT o.sub, o.user_id FROM identities o
                WHERE c.identity_id IS NULL AND o.pool_id = c.pool_id AND lower(o.username) = lower(c.username) AND o.sub <> c.sub
                  AND o.status IN ('active', 'disabled')
                  AND NOT EXISTS (SELECT 1 FROM recon_snap g WHERE g.pool_id = o.pool_id AND g.sub = o.sub)
                ORDER BY o.id LIMIT 1
            ) prev ON true
            """
        )
        try judge(table: "recon_cognito", on: connection) { row in
            ReconcileRules.classify(try cognitoEvidence(row, scope: context.scope))
        }
    }

    /// The snapshot users some rule could fire for, with the map's facts about each (the
    /// `candidates` of ``judgeCognitoUsers(_:on:)``; it names `migrated_people` and
    /// `elsewhere_people`).
    static func cognitoCandidates(_ context: Context) -> PostgresQuery {
        let sources = PostgresArray(context.scope.sources.map(\.rawValue))
        return """
            SELECT * FROM (
                SELECT s.pool_id, s.sub, s.username, s.email, s.email_normalized, s.email_verified, s.enabled, s.user_status,
                       s.provider, s.provider_user_id, s.stable_id_attr, i.id AS identity_id,
                       i.status AS map_status, i.email AS map_email, i.email_normalized AS map_email_normalized,
                       i.email_verified AS map_email_verified, p.id AS person, p.status AS person_status,
                       greatest(i.linked_at, i.updated_at) >= st.started AS map_changed,
                       CASE WHEN p.id IS NOT NULL AND s.pool_id = ANY(\(sources)::text[]) THEN m.user_id IS NOT NULL END AS migrated,
                       -- Source users only: a member of the campaign's subset (true without one).
                       CASE WHEN s.pool_id = ANY(\(sources)::text[]) THEN \(fragment: inSubset(context)) END AS in_subset,
                       e.pools AS elsewhere_pools,
                       -- Whom the stable-ID attribute names, merges followed.
                       sv.id AS attribute_person, sv.status AS attribute_status
                FROM recon_snap s
                JOIN snapshot_started st ON st.pool_id = s.pool_id
                LEFT JOIN identities i ON i.pool_id = s.pool_id AND i.sub = s.sub
                LEFT JOIN users u ON u.id = i.user_id
                LEFT JOIN users p ON p.id = \(fragment: Person.survivor(of: "u"))
                LEFT JOIN migrated_people m ON m.user_id = p.id
                LEFT JOIN elsewhere_people e ON e.user_id = p.id
                LEFT JOIN users au ON au.id = s.stable_id_user
                LEFT JOIN users sv ON sv.id = \(fragment: Person.survivor(of: "au"))
            ) c
            WHERE c.map_status IS NULL OR c.map_status = 'deleted'
               OR (c.map_status IN ('active', 'disabled') AND (
                      c.email_normalized IS DISTINCT FROM c.map_email_normalized OR c.email IS DISTINCT FROM c.map_email
                      OR c.email_verified <> c.map_email_verified
                      OR c.enabled <> (c.map_status = 'active')
                      OR (c.stable_id_attr IS NOT NULL AND c.attribute_person IS DISTINCT FROM c.person)
                      OR (c.migrated = false AND c.enabled AND c.person_status = 'active' AND c.in_subset)))
            """
    }

    /// People with an active identity in the target pool of another campaign (not a pool of this
    /// scope: a source of this campaign may be another's target), with those pools.
    static func elsewherePeople(_ context: Context) -> PostgresQuery {
        let campaign = context.scope.campaignID
        let scopePools = PostgresArray(context.scope.pools.map(\.rawValue))
        return """
            SELECT user_id, array_agg(DISTINCT pool_id ORDER BY pool_id) AS pools FROM identities
            WHERE \(campaign)::uuid IS NOT NULL AND status = 'active'
              AND pool_id IN (SELECT target_pool FROM campaigns WHERE id <> \(campaign)::uuid)
              AND pool_id <> ALL(\(scopePools)::text[])
            GROUP BY user_id
            """
    }

    /// Whether a source user of the snapshot (alias `s`) is a member of the campaign's subset:
    /// its attribute conditions, judged at staging (`subset_match`, NULL without conditions), and
    /// the member file (``CampaignSubsetStore/listed(campaign:pool:sub:username:)``). Every user
    /// is a member of a campaign without a subset.
    static func inSubset(_ context: Context) -> PostgresQuery {
        guard let campaign = context.scope.campaignID, context.scope.subset?.hasMemberFile == true else {
            return "coalesce(s.subset_match, true)"
        }
        let listed = CampaignSubsetStore.listed(campaign: campaign, pool: "s.pool_id", sub: "s.sub", username: "s.username")
        return "(coalesce(s.subset_match, true) AND \(fragment: listed))"
    }

    static func cognitoEvidence(_ row: PostgresRow, scope: ReconcileScope) throws -> ReconcileRules.CognitoUserEvidence {
        let pool = try poolID(try row.decode("pool_id"))
        let user = ReconcileRules.SnapshotUser(
            pool: pool, sub: try row.decode("sub"), username: try row.decode("username"), email: try row.decodeIfPresent("email"),
            emailVerified: try row.decode("email_verified"), enabled: try row.decode("enabled"), userStatus: try row.decode("user_status"),
            provider: try row.decode("provider"), providerUserID: try row.decodeIfPresent("provider_user_id"),
            stableIDAttribute: try row.decodeIfPresent("stable_id_attr")
        )
        var evidence = ReconcileRules.CognitoUserEvidence(user: user, role: scope.role(of: pool))
        if let status = try row.decodeIfPresent("map_status", as: String.self) {
            guard let identityStatus = IdentityStatus(rawValue: status), let person = try row.decodeIfPresent("person", as: UUID.self),
                let personStatus = UserStatus(rawValue: try row.decode("person_status"))
            else { throw malformed }
            evidence.mapped = ReconcileRules.MappedIdentity(
                person: person, personStatus: personStatus, status: identityStatus, email: try row.decodeIfPresent("map_email"),
                emailVerified: try row.decode("map_email_verified"), changedSinceSnapshot: try row.decode("map_changed")
            )
        }
        evidence.migrated = try row.decodeIfPresent("migrated")
        evidence.inSubset = try row.decodeIfPresent("in_subset") ?? true
        evidence.elsewhere = try row.decodeIfPresent("elsewhere_pools", as: [String].self)?.compactMap { PoolID($0) } ?? []
        if let person = try row.decodeIfPresent("attribute_person", as: UUID.self) {
            evidence.attributeTarget = ReconcileRules.AttributeTarget(
                person: person, status: UserStatus(rawValue: try row.decode("attribute_status")) ?? .deleted,
                corroborated: try row.decode("attribute_corroborated")
            )
        }
        if let sub = try row.decodeIfPresent("previous_sub", as: String.self) {
            evidence.previousIdentity = ReconcileRules.PreviousIdentity(sub: sub, person: try row.decode("previous_user"))
        }
        return evidence
    }
}
