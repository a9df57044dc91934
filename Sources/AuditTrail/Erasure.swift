public import Foundation
public import IdentityMap
import Postgres

/// Right-to-erasure: removes a person's personal data (emails, usernames) from identities,
/// events, stored idempotent answers, subset campaigns' member files and `--only` values, and
/// reconciliation (findings about the person, snapshot rows of their identities), while the audit
/// chain still verifies (it holds only salted digests of personal data, and the salt is erased with
/// the data).
public struct Erasure: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public struct Result: Sendable, Equatable, Codable {
        public var userID: String
        public var identities: Int
        public var eventsScrubbed: Int
        /// The person's `campaign finalize` rows: where a target account may exist that the
        /// erasure did not touch (StableID never deletes Cognito users).
        public var finalizeRows: [ErasedFinalizeRow]
        /// The subset campaigns whose `--only` values lost the person's emails or usernames, with
        /// how many each.
        public var subsetValues: [ErasedSubsetValues]

        enum CodingKeys: String, CodingKey {
            case identities
            case userID = "user_id"
            case eventsScrubbed = "events_scrubbed"
            case finalizeRows = "finalize_rows"
            case subsetValues = "subset_values"
        }
    }

    public func forget(userID: UUID, attribution: Attribution) async throws -> Result {
        try await database.primary.transaction { connection in
            // Forget the survivor and everyone merged into it: they are one person.
            guard let person = try Person.find(userID, lock: .update, on: connection) else {
                throw IdentityMapError.userNotFound(userID)
            }
            let survivor = person.userID
            let people = person.userIDs.map { $0.uuidString.lowercased() }
            let ids = PostgresArray(people)
            // Refused sign-ins are filed under the target pool with only the username typed (no
            // user yet): find them by the person's usernames and emails before those are erased.
            // Every deleted row is named in the erasure event, so `verify` can tell an erasure from
            // tampering (personal data deleted behind the service's back).
            var scrubbedEvents = try connection.query(
                """
                DELETE FROM event_personal_data p USING events e
                WHERE p.event_id = e.id AND e.kind = 'migration_failed'
                  AND lower(p.data->>'username') IN (
                      SELECT lower(username) FROM identities WHERE user_id = ANY(\(ids)::uuid[])
                      UNION SELECT email_normalized FROM identities WHERE user_id = ANY(\(ids)::uuid[]) AND email_normalized IS NOT NULL)
                RETURNING p.event_id
                """
            ).map { try $0.decode("event_id", as: Int64.self) }
            scrubbedEvents += try Self.forgetFindings(of: ids, on: connection)
            // Reconciliation snapshots (a running run's, or a failed live run's kept for resume)
            // may hold the person under users the map does not link to them — an account in a
            // pool not imported yet, a user deleted and created again: matched by username and email.
            try connection.execute(
                """
                DELETE FROM reconcile_snapshot
                WHERE lower(username) IN (SELECT lower(username) FROM identities WHERE user_id = ANY(\(ids)::uuid[]))
                   OR email_normalized IN (
                       SELECT email_normalized FROM identities WHERE user_id = ANY(\(ids)::uuid[]) AND email_normalized IS NOT NULL)
                """
            )
            try connection.execute("DELETE FROM pending_links WHERE user_id = ANY(\(ids)::uuid[])")
            try Self.forgetSubsetMembers(of: ids, on: connection)
            let subsetValues = try Self.forgetSubsetValues(of: ids, on: connection)
            let finalizeRows = try Self.forgetFinalizeUsernames(of: ids, on: connection)
            let identities = try IdentitySetWrites.erasePersonalData(ofUsers: ids, on: connection)
            scrubbedEvents += try connection.query(
                """
                DELETE FROM event_personal_data p USING events e
                WHERE p.event_id = e.id
                  AND (e.user_id = ANY(\(ids)::uuid[])
                       OR (e.pool_id, e.sub) IN (SELECT pool_id, sub FROM identities WHERE user_id = ANY(\(ids)::uuid[])))
                RETURNING p.event_id
                """
            ).map { try $0.decode("event_id", as: Int64.self) }
            // A running reconciliation's snapshot holds the pool's copy of the same emails and
            // usernames; that run then simply does not see these users.
            try connection.execute(
                """
                DELETE FROM reconcile_snapshot
                WHERE (pool_id, sub) IN (SELECT pool_id, sub FROM identities WHERE user_id = ANY(\(ids)::uuid[]))
                """
            )
            let scrubbed = scrubbedEvents.count
            // Idempotent answers replay user JSON, which names emails and usernames.
            for id in people {
                try connection.execute("DELETE FROM idempotency_keys WHERE strpos(response_body, \(id)) > 0")
            }
            try EventLog.append(
                EventDraft(
                    PersonalDataErasedDetails(
                        users: person.userIDs, identities: identities, eventsScrubbed: scrubbed, scrubbedEvents: scrubbedEvents.sorted(),
                        finalizeRows: finalizeRows, subsetValues: subsetValues
                    ),
                    userID: survivor
                ),
                attribution: attribution,
                on: connection
            )
            return Result(
                userID: survivor.uuidString.lowercased(), identities: identities, eventsScrubbed: scrubbed, finalizeRows: finalizeRows,
                subsetValues: subsetValues)
        }
    }

    /// Subset campaigns' member files (`campaign create --only-file`) list usernames: the person's
    /// go, before the identities' usernames are erased — a line naming a pool only for the person's
    /// identity in that pool (`B alice` is another person than pool A's alice). (Their subs stay: a sub is no personal data
    /// here, and the campaign still knows whom it covers.)
    static func forgetSubsetMembers(of ids: PostgresArray<String>, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            DELETE FROM campaign_subset_members m
            WHERE m.key_kind = 'username'
              AND EXISTS (SELECT 1 FROM identities i WHERE i.user_id = ANY(\(ids)::uuid[]) AND i.username = m.key
                          AND (m.pool_id IS NULL OR m.pool_id = i.pool_id))
            """
        )
    }

    /// Subset campaigns' `--only` values that are the person's: one of their emails, in any
    /// attribute and any case (`--only email=…`, a custom attribute holding an address), or one of
    /// their usernames in `preferred_username` — the attribute Cognito gives a username-like alias.
    /// A username is not looked for in other attributes: a user called `de` would take `DE` out of
    /// every `custom:country=DE`. They are removed from the `values` arrays of `campaigns.subset`,
    /// the one place they are kept, in place: the shape stays what every release reads, and a
    /// condition left without values admits nobody (UserMigration's `CampaignSubset`). Values the map does not
    /// know to be the person's (a phone number, a name) are out of its reach. Runs before the
    /// identities lose their usernames and emails. Returns, per campaign changed, how many values
    /// went (the erasure's event records that, never a value).
    static func forgetSubsetValues(of ids: PostgresArray<String>, on connection: PostgresConnection) throws -> [ErasedSubsetValues] {
        // Lock the subset campaigns first (few rows, in id order): the UPDATE below, a statement
        // of its own, then reads values no other erasure is rewriting — one that committed while
        // this waited is seen, not written back over.
        try connection.execute("SELECT id FROM campaigns WHERE jsonb_typeof(subset->'only') = 'array' ORDER BY id FOR NO KEY UPDATE")
        return try connection.query(
            """
            WITH emails AS (
                SELECT email_normalized AS value FROM identities WHERE user_id = ANY(\(ids)::uuid[]) AND email_normalized IS NOT NULL
                UNION SELECT lower(email) FROM identities WHERE user_id = ANY(\(ids)::uuid[]) AND email IS NOT NULL
            ), usernames AS (
                SELECT lower(username) AS value FROM identities WHERE user_id = ANY(\(ids)::uuid[]) AND username IS NOT NULL
            ), conditions AS (
                -- Each condition of each subset campaign, with the values it keeps (in order) and
                -- how many of the person's it loses.
                SELECT c.id, o.n, o.condition, k.kept, k.lost
                FROM campaigns c
                CROSS JOIN LATERAL jsonb_array_elements(c.subset->'only') WITH ORDINALITY AS o (condition, n)
                CROSS JOIN LATERAL (
                    SELECT coalesce(jsonb_agg(v.value ORDER BY v.n) FILTER (WHERE NOT v.theirs), '[]'::jsonb) AS kept,
                           count(*) FILTER (WHERE v.theirs) AS lost
                    FROM (
                        SELECT x.value, x.n,
                               coalesce(jsonb_typeof(x.value) = 'string'
                                   AND (lower(x.value #>> '{}') IN (SELECT value FROM emails)
                                        OR (o.condition->>'attribute' = 'preferred_username'
                                            AND lower(x.value #>> '{}') IN (SELECT value FROM usernames))), false) AS theirs
                        FROM jsonb_array_elements(
                            CASE WHEN jsonb_typeof(o.condition->'values') = 'array' THEN o.condition->'values' ELSE '[]'::jsonb END
                        ) WITH ORDINALITY AS x (value, n)
                    ) v
                ) k
                WHERE jsonb_typeof(c.subset->'only') = 'array'
            ), rewritten AS (
                SELECT id, sum(lost)::integer AS removed,
                       jsonb_agg(CASE WHEN lost > 0 THEN jsonb_set(condition, '{values}', kept) ELSE condition END ORDER BY n) AS kept_only
                FROM conditions
                GROUP BY id
            )
            UPDATE campaigns c SET subset = jsonb_set(c.subset, '{only}', r.kept_only)
            FROM rewritten r
            WHERE c.id = r.id AND r.removed > 0
            RETURNING c.id, r.removed
            """
        ).map { row in ErasedSubsetValues(campaign: try row.decode("id"), removed: try row.decode("removed")) }
            .sorted { $0.campaign.uuidString < $1.campaign.uuidString }
    }

    /// The username `campaign finalize` gave the person in a target pool becomes NULL: a resumed
    /// run must not look the erased name up, nor `--resend` invite whoever holds it. A row it was
    /// still creating is held. Returns every row, with its state before: `creating` or `created`
    /// mean an account may exist in the target pool, with the person's attributes, for the
    /// operator to delete there.
    static func forgetFinalizeUsernames(of ids: PostgresArray<String>, on connection: PostgresConnection) throws -> [ErasedFinalizeRow] {
        try connection.query(
            """
            WITH touched AS (
                SELECT r.campaign_id, r.user_id, r.state, c.target_pool
                FROM finalize_users r JOIN campaigns c ON c.id = r.campaign_id
                WHERE r.user_id = ANY(\(ids)::uuid[])
                FOR UPDATE OF r
            )
            UPDATE finalize_users r SET target_username = NULL, updated_at = now(),
                last_error = CASE WHEN r.state = 'creating' THEN 'erased' ELSE r.last_error END,
                state = CASE WHEN r.state = 'creating' THEN 'held' ELSE r.state END
            FROM touched t
            WHERE r.campaign_id = t.campaign_id AND r.user_id = t.user_id
            RETURNING t.campaign_id, t.target_pool, t.state
            """
        ).map { row in
            ErasedFinalizeRow(
                campaign: try row.decode("campaign_id"), targetPool: try row.decode("target_pool"), state: try row.decode("state"))
        }.sorted { ($0.campaign.uuidString, $0.targetPool) < ($1.campaign.uuidString, $1.targetPool) }
    }

    /// Deletes the reconciliation findings about the person — by user, by identity, and by the
    /// subjects that name one of their accounts (`email:` + the SHA-256 of a normalized address,
    /// `federated:<provider>:<user id>`, as Sources/Reconciliation keys shared-account duplicates)
    /// — and the personal data of the finding events that carry such a subject. Must run before
    /// the identities lose their emails and federated ids: the subjects are computed from them.
    /// Returns the events whose personal data it deleted.
    static func forgetFindings(of ids: PostgresArray<String>, on connection: PostgresConnection) throws -> [Int64] {
        let subjects = try connection.query(
            """
            SELECT 'email:' || encode(sha256(convert_to(email_normalized, 'UTF8')), 'hex') AS subject
            FROM identities WHERE user_id = ANY(\(ids)::uuid[]) AND email_normalized IS NOT NULL
            UNION
            SELECT 'federated:' || provider || ':' || federated_user_id
            FROM identities WHERE user_id = ANY(\(ids)::uuid[]) AND federated_user_id IS NOT NULL
            """
        ).map { try $0.decode("subject", as: String.self) }
        let personalSubjects = PostgresArray(subjects)
        // Acknowledgement reasons go with the findings; subjects are only ever personal on
        // duplicates (the index of 0008 covers that lookup).
        try connection.execute(
            """
            DELETE FROM findings f
            WHERE f.user_id = ANY(\(ids)::uuid[])
               OR (f.pool_id, f.sub) IN (SELECT pool_id, sub FROM identities WHERE user_id = ANY(\(ids)::uuid[]))
               OR (f.kind = 'duplicate' AND f.subject = ANY(\(personalSubjects)::text[]))
            """
        )
        guard !subjects.isEmpty else { return [] }
        return try connection.query(
            """
            DELETE FROM event_personal_data p USING events e
            WHERE p.data ? 'subject' AND p.data->>'subject' = ANY(\(personalSubjects)::text[])
              AND e.id = p.event_id AND e.kind IN ('finding_opened', 'finding_resolved', 'finding_acknowledged')
            RETURNING p.event_id
            """
        ).map { try $0.decode("event_id", as: Int64.self) }
    }
}
