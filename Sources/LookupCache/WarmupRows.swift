import Foundation
import IdentityMap
import Postgres

/// Decodes warm-up pages straight into ``CacheUpdate``s, by column position (a million rows).
///
/// It mirrors `IdentityRows.resolution` (internal to IdentityMap, which this module cannot
/// call) field for field; the differential test compares every cached answer with
/// `ResolveQueries`, so a drift between the two shows up there. Changes after warm-up are
/// re-read through `ResolveQueries` itself.
enum WarmupRows {
    /// `i.id` first (the keyset), then the columns of `IdentityRows.identityColumns` that an answer uses.
    static let columns = """
        i.id, i.user_id, u.status AS user_status, i.pool_id, i.sub, i.username, i.email, i.email_verified, \
        i.provider, i.status, i.linked_at, i.unlinked_at, i.via, i.campaign_id
        """

    struct Decoded: Sendable {
        var updates: [CacheUpdate]
        /// Rows that cannot be held (a pool id or sub not in canonical form, a malformed row):
        /// their lookups go to PostgreSQL, which answers (or fails) as it would without a cache.
        var skipped: Int
    }

    static func decode(_ rows: PostgresRows) -> Decoded {
        var updates: [CacheUpdate] = []
        updates.reserveCapacity(rows.count)
        var skipped = 0
        var pools: [String: PoolID] = [:]
        for row in rows {
            guard let poolText = row.text(at: 3), let subText = row.text(at: 4), let sub = UUIDBits(canonicalText: subText)
            else {
                skipped += 1
                continue
            }
            let pool: PoolID
            if let known = pools[poolText] {
                pool = known
            } else if let valid = PoolID(poolText) {
                pools[poolText] = valid
                pool = valid
            } else {
                skipped += 1
                continue
            }
            do {
                updates.append(CacheUpdate(pool: pool, sub: sub, resolution: try resolution(row, pool: pool, sub: subText)))
            } catch {
                skipped += 1
            }
        }
        return Decoded(updates: updates, skipped: skipped)
    }

    private static func resolution(_ row: PostgresRow, pool: PoolID, sub: String) throws -> Resolution {
        guard let userStatus = UserStatus(rawValue: try row.decode(at: 2, as: String.self)),
            let status = IdentityStatus(rawValue: try row.decode(at: 9, as: String.self))
        else {
            throw PostgresError(kind: .decoding, message: "stored identity is malformed")
        }
        return Resolution(
            userID: try row.decode(at: 1, as: UUID.self),
            userStatus: userStatus,
            identity: Identity(
                pool: pool,
                sub: sub,
                username: try row.decode(at: 5, as: String.self),
                email: row.text(at: 6),
                emailVerified: try row.decode(at: 7, as: Bool.self),
                provider: try row.decode(at: 8, as: String.self),
                status: status,
                linkedAt: try row.decode(at: 10, as: Date.self),
                unlinkedAt: try row.text(at: 11).map { try Date(postgresText: $0) },
                via: row.text(at: 12).flatMap(LinkPath.init(rawValue:)),
                campaignID: try row.text(at: 13).map { try UUID(postgresText: $0) }
            )
        )
    }
}
