public import Foundation
import Postgres

extension IdentityMapStore {
    /// Merges `from` into `survivor`: `from` becomes `merged`, its identities move, and every ID that
    /// pointed at `from` now points straight at `survivor` (so lookups never walk chains).
    public func merge(_ from: UUID, into survivor: UUID, attribution: Attribution) -> Write<User> {
        Write { connection in
            let states = try Self.lockPair(from, survivor, on: connection)
            switch LinkRules.merge(from: from, fromState: states[from], into: survivor, survivorState: states[survivor]) {
            case .refuse(let error): throw error
            case .unchanged: return try IdentityRows.loadWritten(survivor, on: connection)
            case .merge: break
            }
            let moved = try connection.query(
                "UPDATE identities SET user_id = \(survivor), updated_at = now() WHERE user_id = \(from) RETURNING pool_id, sub"
            ).map { IdentityKey(pool: PoolID(trusted: try $0.decode("pool_id")), sub: try $0.decode("sub")) }
            try connection.execute(
                "UPDATE users SET status = 'merged', merged_into = \(survivor), updated_at = now() WHERE id = \(from)"
            )
            let repointed = try connection.query(
                "UPDATE users SET merged_into = \(survivor), updated_at = now() WHERE merged_into = \(from) RETURNING id"
            ).map { try $0.decode("id", as: UUID.self) }
            try EventLog.append(
                EventDraft(
                    UserMergedDetails(from: from, survivor: survivor, movedIdentities: moved, repointedUsers: repointed),
                    userID: survivor
                ),
                attribution: attribution,
                on: connection
            )
            return try IdentityRows.loadWritten(survivor, on: connection)
        }
    }

    /// Undoes the merge of `from` into `survivor`: `from` is active again with exactly the
    /// identities that merge moved (as its event recorded them), and the users the merge had
    /// re-pointed point at `from` again. Refused when any of that changed since.
    public func unmerge(_ from: UUID, from survivor: UUID, attribution: Attribution) -> Write<User> {
        Write { connection in
            let states = try Self.lockPair(from, survivor, on: connection)
            let merge = try connection.query(
                """
                SELECT id, details::text AS details FROM events
                WHERE kind = 'user_merged' AND user_id = \(survivor) AND details->>'from' = \(from.uuidString.lowercased())
                ORDER BY id DESC LIMIT 1
                """
            ).first
            let details = try merge.map {
                try JSONDecoder().decode(JSONValue.self, from: Data(try $0.decode("details", as: String.self).utf8))
            }
            let moved: [IdentityKey] =
                details?["moved_identities"].flatMap(\.arrayValue)?.compactMap { item in
                    guard let pool = item["pool"]?.stringValue.flatMap(PoolID.init), let sub = item["sub"]?.stringValue else { return nil }
                    return IdentityKey(pool: pool, sub: sub)
                } ?? []
            let repointed: [UUID]? = details?["repointed_users"].flatMap(\.arrayValue).map {
                $0.compactMap { $0.stringValue.flatMap(UUID.init) }
            }
            let legacyRepointed = details?["repointed_merges"] == .number(0)
            var holders: [(owner: UUID?, unlinked: Bool)] = []
            for key in moved {
                let row = try connection.query(
                    "SELECT user_id, status FROM identities WHERE pool_id = \(key.pool.rawValue) AND sub = \(key.sub) FOR UPDATE"
                ).first
                holders.append((try row?.decode("user_id"), try row?.decode("status", as: String.self) == IdentityStatus.unlinked.rawValue))
            }
            if let refusal = LinkRules.unmerge(
                from: from, fromState: states[from], survivor: survivor, mergeFound: merge != nil, moved: holders,
                repointedKnown: repointed != nil || legacyRepointed
            ) {
                throw refusal
            }
            guard let mergeEvent: Int64 = try merge?.decode("id") else { throw IdentityMapError.notMerged(from: from, into: survivor) }
            for key in moved {
                try connection.execute(
                    """
                    UPDATE identities SET user_id = \(from), updated_at = now()
                    WHERE pool_id = \(key.pool.rawValue) AND sub = \(key.sub) AND user_id = \(survivor)
                    """
                )
            }
            try connection.execute("UPDATE users SET status = 'active', merged_into = NULL, updated_at = now() WHERE id = \(from)")
            let restoredPointers = repointed ?? []
            if !restoredPointers.isEmpty {
                try connection.execute(
                    """
                    UPDATE users SET merged_into = \(from), updated_at = now()
                    WHERE id = ANY(\(PostgresArray(restoredPointers.map { $0.uuidString.lowercased() }))::uuid[]) AND merged_into = \(survivor)
                    """
                )
            }
            try EventLog.append(
                EventDraft(
                    UserUnmergedDetails(
                        from: from, survivor: survivor, mergeEvent: mergeEvent, restoredIdentities: moved, repointedUsers: restoredPointers
                    ),
                    userID: from
                ),
                attribution: attribution,
                on: connection
            )
            return try IdentityRows.loadWritten(from, on: connection)
        }
    }

    /// Locks both users of a merge or unmerge, in id order so two opposite ones cannot deadlock,
    /// and reads their states for `LinkRules`.
    static func lockPair(_ a: UUID, _ b: UUID, on connection: PostgresConnection) throws -> [UUID: LinkRules.UserState] {
        var states: [UUID: LinkRules.UserState] = [:]
        for row in try connection.query("SELECT id, status, merged_into FROM users WHERE id IN (\(a), \(b)) ORDER BY id FOR UPDATE") {
            states[try row.decode("id")] = LinkRules.UserState(
                status: try IdentityRows.userStatus(row), mergedInto: try row.decodeIfPresent("merged_into"))
        }
        return states
    }
}
