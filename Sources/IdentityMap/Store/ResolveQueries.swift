import Foundation
public import Postgres

/// "Who is this sub?" on a leased connection: the single and the batch form, shared by the
/// store, the lookup coalescer and (later) the in-memory read model's fall-through.
public enum ResolveQueries {
    public static let maxBatch = 1000

    public static func resolve(_ reference: IdentityReference, on connection: PostgresConnection) throws -> Resolution? {
        let rows: PostgresRows
        switch reference {
        case .pool(let pool, let sub):
            rows = try connection.query(
                """
                SELECT i.user_id, u.status AS user_status, \(unescaped: IdentityRows.identityColumns)
                FROM identities i JOIN users u ON u.id = i.user_id
                WHERE i.pool_id = \(pool.rawValue) AND i.sub = \(sub) AND i.status <> 'unlinked'
                """
            )
        case .issuer(let issuer, let sub):
            rows = try connection.query(
                """
                SELECT i.user_id, u.status AS user_status, \(unescaped: IdentityRows.identityColumns)
                FROM pools p JOIN identities i ON i.pool_id = p.id JOIN users u ON u.id = i.user_id
                WHERE p.issuer = \(Pool.normalizeIssuer(issuer)) AND i.sub = \(sub) AND i.status <> 'unlinked'
                """
            )
        }
        return try rows.first.map(IdentityRows.resolution)
    }

    /// Up to ``maxBatch`` references in one round trip; answers in the order asked.
    public static func resolve(batch references: [IdentityReference], on connection: PostgresConnection) throws -> [Resolution?] {
        var pools: [String?] = []
        var issuers: [String?] = []
        var subs: [String] = []
        pools.reserveCapacity(references.count)
        issuers.reserveCapacity(references.count)
        subs.reserveCapacity(references.count)
        for reference in references {
            switch reference {
            case .pool(let pool, let sub):
                pools.append(pool.rawValue)
                issuers.append(nil)
                subs.append(sub)
            case .issuer(let issuer, let sub):
                pools.append(nil)
                issuers.append(Pool.normalizeIssuer(issuer))
                subs.append(sub)
            }
        }
        let rows = try connection.query(
            """
            SELECT q.ord, i.user_id, u.status AS user_status, \(unescaped: IdentityRows.identityColumns)
            FROM unnest(\(PostgresArray(pools))::text[], \(PostgresArray(issuers))::text[], \(PostgresArray(subs))::text[])
                 WITH ORDINALITY AS q(pool_id, issuer, sub, ord)
            JOIN pools p ON p.id = COALESCE(q.pool_id, (SELECT id FROM pools WHERE issuer = q.issuer))
            JOIN identities i ON i.pool_id = p.id AND i.sub = q.sub AND i.status <> 'unlinked'
            JOIN users u ON u.id = i.user_id
            """
        )
        var results = [Resolution?](repeating: nil, count: references.count)
        for row in rows {
            let ordinal: Int = try row.decode("ord")
            results[ordinal - 1] = try IdentityRows.resolution(row)
        }
        return results
    }
}
