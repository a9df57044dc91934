public import Foundation
import Postgres

extension IdentityMapStore {
    /// Merges `from` into `survivor`: `from` becomes `merged`, its identities move, and every ID that
    /// pointed at `from` now points straight at `survivor` (so lookups never walk chains).
    public func merge(_ from: UUID, into survivor: UUID, attribution: Attribution) -> Write<User> {
        Write { connection in
            // Lock both rows in a fixed order so two opposite merges cannot deadlock.
            var states: [UUID: LinkRules.UserState] = [:]
            for row in try connection.query(
                "SELECT id, status, merged_into FROM users WHERE id IN (\(from), \(survivor)) ORDER BY id FOR UPDATE"
            ) {
                states[try row.decode("id")] = LinkRules.UserState(
                    status: try IdentityRows.userStatus(row),
                    mergedInto: try row.decodeIfPresent("merged_into")
                )
            }
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
            let repointed = try connection.execute(
                "UPDATE users SET merged_into = \(survivor), updated_at = now() WHERE merged_into = \(from)"
            )
            try EventLog.append(
                EventDraft(
                    UserMergedDetails(from: from, survivor: survivor, movedIdentities: moved, repointedMerges: repointed),
                    userID: survivor
                ),
                attribution: attribution,
                on: connection
            )
            return try IdentityRows.loadWritten(survivor, on: connection)
        }
    }
}
