public import Foundation
public import IdentityMap
public import Postgres

/// The SQL of a campaign's member file (`campaign_subset_members`, sql/0025): written once with
/// the campaign, then asked by every part of the campaign — the Migrate-user trigger for one
/// user, reconciliation, progress and the clean-up for many — through the one rule of
/// ``listed(campaign:pool:sub:username:)``.
public enum CampaignSubsetStore {
    /// Stores the member file of a new campaign (COPY, in the campaign's transaction).
    static func insert(_ members: [SubsetMember], campaign: UUID, on connection: PostgresConnection) throws {
        guard !members.isEmpty else { return }
        let id = campaign.uuidString.lowercased()
        try connection.copyFrom(
            "COPY campaign_subset_members (campaign_id, pool_id, key_kind, key) FROM STDIN",
            rows: members.lazy.map { member -> [String?] in [id, member.pool?.rawValue, member.kind.rawValue, member.key] }
        )
    }

    /// Whether the member file of `campaign` lists the source user whose pool, sub and username
    /// the three expressions give (columns of the caller's query, or bound values): a `username`
    /// entry equal to the username, or a `sub` entry equal to the sub or to the username (in lower
    /// case: pools that sign in by email give users UUID usernames); an entry with a pool only for
    /// that pool. Index probes on `(campaign_id, key)`.
    public static func listed(campaign: UUID, pool: PostgresQuery, sub: PostgresQuery, username: PostgresQuery) -> PostgresQuery {
        """
        EXISTS (SELECT 1 FROM campaign_subset_members m
                WHERE m.campaign_id = \(campaign)::uuid
                  AND m.key IN (\(fragment: sub), \(fragment: username), lower(\(fragment: username)))
                  AND (m.key_kind = 'sub' OR m.key = \(fragment: username))
                  AND (m.pool_id IS NULL OR m.pool_id = \(fragment: pool)))
        """
    }

    /// ``listed(campaign:pool:sub:username:)`` for one source user, or true when the campaign has
    /// no member file.
    static func isListed(
        _ campaign: Campaign, pool: PoolID, sub: String, username: String, on connection: PostgresConnection
    ) throws
        -> Bool
    {
        guard campaign.subset?.hasMemberFile == true else { return true }
        let listed = Self.listed(campaign: campaign.id, pool: "\(pool.rawValue)::text", sub: "\(sub)::text", username: "\(username)::text")
        return try connection.query("SELECT \(fragment: listed) AS listed")[0].decode("listed")
    }
}
