import Foundation
import IdentityMap
import Migration
import Postgres

/// The set-wise half of a run, inside its one transaction: the staged snapshot is joined with the
/// map, candidate subjects are paged through ``ReconcileRules`` (memory holds one page), the
/// findings they yield are COPYed into a working table, and one statement each upserts findings,
/// resolves those no longer seen, and records the events.
///
/// Every working table is a temporary table dropped at commit; each candidate table carries a
/// dense `n` so it pages by keyset.
enum ReconcileClassifier {
    static let pageSize = 5_000

    /// What the run knows when it classifies.
    struct Context: Sendable {
        var runID: UUID
        var scope: ReconcileScope
        var source: ReconcileSource
        /// Pool → the label of the source it was read from.
        var sources: [String: String]
        /// Pool → when its snapshot started (database time): what the map changed since then the
        /// snapshot cannot contradict.
        var snapshotStarted: [String: Date]
        /// Records read but not staged: their sub is no UUID.
        var invalidRecords: Int
        var attribution: Attribution
    }

    struct Outcome: Sendable {
        var scanned: [String: Int]
        var counts: FindingCounts
        var opened: FindingCounts
        var resolved: FindingCounts
        var warnings: [String]
        var finishedAt: Date
    }

    static func classify(_ context: Context, on connection: PostgresConnection) throws -> Outcome {
        // The joins and groupings below go over every user of every pool in the scope: with the
        // default 4 MB they spill to disk and hash joins turn into sorts. This transaction is the
        // only one of its kind (one run per scope), so it may take more for a while.
        try connection.execute("SET LOCAL work_mem = '128MB'")
        let scanned = try loadSnapshot(context, on: connection)
        try loadSnapshotStarts(context.snapshotStarted, on: connection)
        var warnings: [String] = []
        if context.invalidRecords > 0 { warnings.append("\(context.invalidRecords) records without a valid sub were left out") }
        let unchecked = try poolsNotJudged(context, scanned: scanned, warnings: &warnings, on: connection)

        try connection.execute(
            """
            CREATE TEMP TABLE recon_found (
                kind text NOT NULL, subject text NOT NULL, pool_id text, sub text, user_id uuid, evidence jsonb NOT NULL
            ) ON COMMIT DROP
            """
        )
        try judgeCognitoUsers(context, on: connection)
        try judgeMissingIdentities(context, unchecked: unchecked, on: connection)
        try judgePeople(context, on: connection)
        try judgePoolDuplicates(context, on: connection)
        try judgeSharedAccounts(on: connection)

        let (opened, resolved) = try record(context, unchecked: unchecked, on: connection)
        let counts = try FindingSQL.openCounts(scope: context.scope.key, on: connection)
        let finishedAt = try complete(
            context, scanned: scanned, counts: counts, opened: opened, resolved: resolved, warnings: warnings, on: connection
        )
        return Outcome(scanned: scanned, counts: counts, opened: opened, resolved: resolved, warnings: warnings, finishedAt: finishedAt)
    }

    // MARK: The snapshot

    /// One row per (pool, sub), the first occurrence winning (ListUsers pages can overlap, files
    /// be concatenated). Returns users per pool (every scope pool, 0 included). Records whose sub
    /// is no UUID were never staged (``ReconciliationRun`` counts them).
    static func loadSnapshot(_ context: Context, on connection: PostgresConnection) throws -> [String: Int] {
        try connection.execute(
            """
            CREATE TEMP TABLE recon_snap ON COMMIT DROP AS
            SELECT DISTINCT ON (pool_id COLLATE "C", sub COLLATE "C")
                   pool_id, sub, username, email, email_normalized, email_verified, enabled, user_status,
                   provider, provider_user_id, nullif(btrim(stable_id_attr), '') AS stable_id_attr, stable_id_user
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

    // MARK: Subjects, judged page by page

    /// Snapshot users that some rule could fire for (the prefilter is a superset of every rule in
    /// `ReconcileRules.classify(_: CognitoUserEvidence)`; clean users never leave the database).
    static func judgeCognitoUsers(_ context: Context, on connection: PostgresConnection) throws {
        let sources = PostgresArray(context.scope.sources.map(\.rawValue))
        let target = context.scope.target?.rawValue
        let attributeNeedsProof = context.scope.trust.selfSignUp && context.scope.trust.attributeWritable
        // Two steps: the facts every user needs come from set-wise joins (hash joins over the
        // whole snapshot), and only users some rule could fire for get the per-row probes —
        // corroboration of the stable-ID attribute and the deleted-and-recreated check.
        try connection.execute(
            """
            CREATE TEMP TABLE recon_cognito ON COMMIT DROP AS
            WITH migrated_people AS (
                SELECT DISTINCT user_id FROM identities WHERE pool_id = \(target)::text AND status = 'active'
            ), candidates AS MATERIALIZED (
                SELECT * FROM (
                    SELECT s.pool_id, s.sub, s.username, s.email, s.email_normalized, s.email_verified, s.enabled, s.user_status,
                           s.provider, s.provider_user_id, s.stable_id_attr, i.id AS identity_id,
                           i.status AS map_status, i.email AS map_email, i.email_normalized AS map_email_normalized,
                           i.email_verified AS map_email_verified, p.id AS person, p.status AS person_status,
                           greatest(i.linked_at, i.updated_at) >= st.started AS map_changed,
                           CASE WHEN p.id IS NOT NULL AND s.pool_id = ANY(\(sources)::text[]) THEN m.user_id IS NOT NULL END AS migrated,
                           -- Whom the stable-ID attribute names, merges followed.
                           sv.id AS attribute_person, sv.status AS attribute_status
                    FROM recon_snap s
                    JOIN snapshot_started st ON st.pool_id = s.pool_id
                    LEFT JOIN identities i ON i.pool_id = s.pool_id AND i.sub = s.sub
                    LEFT JOIN users u ON u.id = i.user_id
                    LEFT JOIN users p ON p.id = coalesce(u.merged_into, u.id)
                    LEFT JOIN migrated_people m ON m.user_id = p.id
                    LEFT JOIN users au ON au.id = s.stable_id_user
                    LEFT JOIN users sv ON sv.id = coalesce(au.merged_into, au.id)
                ) c
                WHERE c.map_status IS NULL OR c.map_status = 'deleted'
                   OR (c.map_status IN ('active', 'disabled') AND (
                          c.email_normalized IS DISTINCT FROM c.map_email_normalized OR c.email IS DISTINCT FROM c.map_email
                          OR c.email_verified <> c.map_email_verified
                          OR c.enabled <> (c.map_status = 'active')
                          OR (c.stable_id_attr IS NOT NULL AND c.attribute_person IS DISTINCT FROM c.person)
                          OR (c.migrated = false AND c.enabled AND c.person_status = 'active')))
            )
            SELECT row_number() OVER (ORDER BY c.pool_id, c.sub) AS n,
                   c.pool_id, c.sub, c.username, c.email, c.email_normalized, c.email_verified, c.enabled, c.user_status,
                   c.provider, c.provider_user_id, c.stable_id_attr, c.map_status, c.map_email, c.map_email_normalized,
                   c.map_email_verified, c.person, c.person_status, c.map_changed, c.migrated, c.attribute_person,
                   c.attribute_status,
                   -- Whether the attribute can be trusted, by the triggers' rule (TriggerLinkRules,
                   -- docs/SECURITY.md): on its own when no app client can write it or no one can
                   -- sign up; otherwise only when proof of control names the same person (the same
                   -- email verified on both sides, the verified email as a source username, the
                   -- same federated account). A username anyone could have chosen is no proof.
                   CASE WHEN c.attribute_person IS NOT NULL THEN NOT \(attributeNeedsProof) OR EXISTS (
                       SELECT 1 FROM identities o
                       WHERE o.user_id = c.attribute_person AND o.status IN ('active', 'disabled') AND o.pool_id <> c.pool_id
                         AND (cardinality(\(sources)::text[]) = 0 OR o.pool_id = ANY(\(sources)::text[]))
                         AND ((c.email_verified AND c.email_normalized IS NOT NULL
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

    /// Snapshot users sharing a verified email or a federated account while belonging to two or
    /// more owners (a person, or — for users the map lacks — the Cognito user itself). A user
    /// whose identity is unlinked or deleted owns nothing (``ReconcileRules/SharedAccountEvidence/Member/owner``);
    /// `owner` here is the same rule, as a prefilter.
    static func judgeSharedAccounts(on connection: PostgresConnection) throws {
        try connection.execute(
            """
            CREATE TEMP TABLE recon_shared ON COMMIT DROP AS
            WITH members AS MATERIALIZED (
                SELECT s.pool_id, s.sub, CASE WHEN s.email_verified THEN s.email_normalized END AS email_key,
                       s.provider, s.provider_user_id, i.status AS identity_status, p.id AS person,
                       CASE WHEN i.id IS NULL THEN s.pool_id || '/' || s.sub
                            WHEN i.status IN ('active', 'disabled') THEN p.id::text END AS owner
                FROM recon_snap s
                LEFT JOIN identities i ON i.pool_id = s.pool_id AND i.sub = s.sub
                LEFT JOIN users u ON u.id = i.user_id AND i.status IN ('active', 'disabled')
                LEFT JOIN users p ON p.id = coalesce(u.merged_into, u.id)
                WHERE (s.email_verified AND s.email_normalized IS NOT NULL) OR s.provider_user_id IS NOT NULL
            ),
            -- Keys with two owners or more, found by hashing (min <> max is "two distinct
            -- owners", NULLs ignored, without sorting each group); only those get their members
            -- gathered in order.
            shared_emails AS (
                SELECT email_key FROM members WHERE email_key IS NOT NULL GROUP BY email_key HAVING min(owner) <> max(owner)
            ), shared_accounts AS (
                SELECT provider, provider_user_id FROM members WHERE provider_user_id IS NOT NULL
                GROUP BY provider, provider_user_id HAVING min(owner) <> max(owner)
            ), groups AS (
                SELECT 'email' AS key_kind, encode(sha256(convert_to(m.email_key, 'UTF8')), 'hex') AS key, NULL::text AS provider,
                       array_agg(m.pool_id || '/' || m.sub ORDER BY m.pool_id, m.sub) AS members,
                       array_agg(coalesce(m.person::text, '') ORDER BY m.pool_id, m.sub) AS people,
                       array_agg(coalesce(m.identity_status, '') ORDER BY m.pool_id, m.sub) AS statuses
                FROM members m JOIN shared_emails e ON e.email_key = m.email_key
                GROUP BY m.email_key
                UNION ALL
                SELECT 'federated', m.provider_user_id, m.provider,
                       array_agg(m.pool_id || '/' || m.sub ORDER BY m.pool_id, m.sub),
                       array_agg(coalesce(m.person::text, '') ORDER BY m.pool_id, m.sub),
                       array_agg(coalesce(m.identity_status, '') ORDER BY m.pool_id, m.sub)
                FROM members m JOIN shared_accounts a ON a.provider = m.provider AND a.provider_user_id = m.provider_user_id
                GROUP BY m.provider, m.provider_user_id
            )
            SELECT row_number() OVER (ORDER BY key_kind, provider, key) AS n, * FROM groups
            """
        )
        try judge(table: "recon_shared", on: connection) { row in
            let members: [String] = try row.decode("members")
            let people: [String] = try row.decode("people")
            let statuses: [String] = try row.decode("statuses")
            guard members.count == people.count, members.count == statuses.count else { throw malformed }
            let key: ReconcileRules.SharedAccountEvidence.Key
            if try row.decode("key_kind", as: String.self) == "email" {
                key = .verifiedEmail(digest: try row.decode("key"))
            } else {
                key = .federated(provider: try row.decode("provider"), userID: try row.decode("key"))
            }
            let evidence = ReconcileRules.SharedAccountEvidence(
                key: key,
                members: try zip(members, zip(people, statuses)).map { member, facts in
                    let (person, status) = facts
                    guard let slash = member.firstIndex(of: "/") else { throw malformed }
                    return ReconcileRules.SharedAccountEvidence.Member(
                        pool: try poolID(String(member[..<slash])), sub: String(member[member.index(after: slash)...]),
                        person: person.isEmpty ? nil : UUID(uuidString: person),
                        identityStatus: status.isEmpty ? nil : IdentityStatus(rawValue: status)
                    )
                }
            )
            return [ReconcileRules.classify(evidence)].compactMap { $0 }
        }
    }

    /// Pages through a candidate table, applies `rules` to each row and COPYs the findings into
    /// `recon_found`, a page at a time.
    static func judge(
        table: String, on connection: PostgresConnection, _ rules: (PostgresRow) throws -> [ReconcileRules.DetectedFinding]
    ) throws {
        try connection.execute(PostgresQuery(unsafeSQL: "CREATE INDEX ON \(table) (n)"))
        try connection.execute(PostgresQuery(unsafeSQL: "ANALYZE \(table)"))
        var after = 0
        while true {
            let rows = try connection.query("SELECT * FROM \(unescaped: table) WHERE n > \(after) ORDER BY n LIMIT \(pageSize)")
            guard let last = rows.last else { return }
            var found: [ReconcileRules.DetectedFinding] = []
            for row in rows { found += try rules(row) }
            try copy(found, on: connection)
            after = try last.decode("n")
            if rows.count < pageSize { return }
        }
    }

    static func copy(_ found: [ReconcileRules.DetectedFinding], on connection: PostgresConnection) throws {
        guard !found.isEmpty else { return }
        try connection.copyFrom(
            "COPY recon_found (kind, subject, pool_id, sub, user_id, evidence) FROM STDIN",
            rows: found.map { finding -> [String?] in
                [
                    finding.kind.rawValue, finding.subject, finding.pool?.rawValue, finding.sub, finding.userID?.uuidString.lowercased(),
                    JSONValue.object(finding.evidence).canonicalText,
                ]
            }
        )
    }

    // MARK: Findings and their events

    /// Upserts what was found (new → open, resolved → open again, the rest keep their state and
    /// get the fresh evidence), resolves the scope's findings this run did not see, and appends
    /// `finding_opened` / `finding_resolved` set-wise. Findings touching a pool that was not
    /// judged (`unchecked`) are neither upserted nor resolved. Returns opened and resolved per kind.
    static func record(
        _ context: Context, unchecked: [String], on connection: PostgresConnection
    ) throws -> (opened: FindingCounts, resolved: FindingCounts) {
        let (run, scope, campaign) = (context.runID, context.scope.key, context.scope.campaignID)
        try connection.execute(
            """
            CREATE TEMP TABLE recon_changes (
                finding_id bigint NOT NULL, kind text NOT NULL, subject text NOT NULL, pool_id text, sub text, user_id uuid,
                change text NOT NULL
            ) ON COMMIT DROP
            """
        )
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

    // MARK: Decoding helpers

    static let malformed = PostgresError(kind: .decoding, message: "reconciliation working row is malformed")

    /// Pool ids come from our own tables, validated on the way in.
    static func poolID(_ text: String) throws -> PoolID {
        guard let pool = PoolID(text) else { throw malformed }
        return pool
    }
}
