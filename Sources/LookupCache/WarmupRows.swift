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

    static func decode(_ rows: PostgresBinaryRows) -> Decoded {
        var updates: [CacheUpdate] = []
        updates.reserveCapacity(rows.count)
        var skipped = 0
        var pools: [String: PoolID] = [:]
        for row in rows {
            guard let poolText = row.string(at: 3), let subText = row.string(at: 4), let sub = UUIDBits(canonicalText: subText)
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

    private static func resolution(_ row: PostgresBinaryRow, pool: PoolID, sub: String) throws -> Resolution {
        guard let userStatus = row.string(at: 2).flatMap(UserStatus.init(rawValue:)),
            let status = row.string(at: 9).flatMap(IdentityStatus.init(rawValue:)),
            let userID = try row.uuid(at: 1), let username = row.string(at: 5), let emailVerified = try row.bool(at: 7),
            let provider = row.string(at: 8), let linkedAt = try row.date(at: 10)
        else {
            throw PostgresError(kind: .decoding, message: "stored identity is malformed")
        }
        return Resolution(
            userID: userID,
            userStatus: userStatus,
            identity: Identity(
                pool: pool,
                sub: sub,
                username: username,
                email: row.string(at: 6),
                emailVerified: emailVerified,
                provider: provider,
                status: status,
                linkedAt: linkedAt,
                unlinkedAt: try row.date(at: 11),
                via: row.string(at: 12).flatMap(LinkPath.init(rawValue:)),
                campaignID: try row.uuid(at: 13)
            )
        )
    }
}
