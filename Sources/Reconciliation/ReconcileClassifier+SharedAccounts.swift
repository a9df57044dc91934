import Foundation
import IdentityMap
import Postgres

/// Accounts shared across the scope's pools (a verified email, a federated account), judged page by page.
extension ReconcileClassifier {
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
                LEFT JOIN users p ON p.id = \(fragment: Person.survivor(of: "u"))
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
}
