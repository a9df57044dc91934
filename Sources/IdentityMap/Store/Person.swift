public import Foundation
public import Postgres

/// One person as the map knows them: the surviving user, and every user ID merged into it.
///
/// The single answer to "whose history / whose data is this?": both history routes, the event
/// export and erasure ask here, so a merged ID means the same person everywhere.
public struct Person: Sendable, Equatable {
    /// Who the person is now (the survivor of any merges).
    public var userID: UUID
    public var status: UserStatus
    /// The ID that was asked, when it had been merged into ``userID``.
    public var requestedID: UUID?
    /// The survivor first, then every user merged into it (merges are path-compressed, so they
    /// all point straight at the survivor).
    public var userIDs: [UUID]

    /// The one rule for following merges: `merged_into` names the survivor itself (a merge
    /// repoints the users merged before it; `sql/0014` refuses any commit that leaves a chain), so
    /// a user's person is `coalesce(merged_into, id)` of its row — one hop. `alias` is the
    /// code-chosen alias of a `users` row in the caller's query.
    public static func survivor(of alias: StaticString) -> PostgresQuery {
        "coalesce(\(unescaped: alias.description).merged_into, \(unescaped: alias.description).id)"
    }

    /// How a write holds the rows it walks: `share` keeps a merge from moving the person under a
    /// link; `update` also keeps other writers out (merges, erasure).
    public enum RowLock: Sendable {
        case none, share, update

        var sql: String {
            switch self {
            case .none: return ""
            case .share: return " FOR SHARE"
            case .update: return " FOR UPDATE"
            }
        }
    }

    /// Follows merges from `id` to the survivor; nil when no user has that ID.
    public static func find(_ id: UUID, lock: RowLock = .none, on connection: PostgresConnection) throws -> Person? {
        guard let (survivor, status) = try survivorRow(of: id, lock: lock, on: connection) else { return nil }
        let merged = try connection.query("SELECT id FROM users WHERE merged_into = \(survivor) ORDER BY id").map {
            try $0.decode("id", as: UUID.self)
        }
        return Person(userID: survivor, status: status, requestedID: survivor == id ? nil : id, userIDs: [survivor] + merged)
    }

    /// The survivor's row by ``survivor(of:)``. Unlocked, one statement: a merge committing
    /// between two reads could otherwise hand back a survivor that was just merged. Locked, the
    /// asked row and then the survivor's, in two statements (a lock covers both rows whichever
    /// was asked, and a merge cannot repoint the asked row while it is held).
    static func survivorRow(of id: UUID, lock: RowLock, on connection: PostgresConnection) throws -> (UUID, UserStatus)? {
        if case .none = lock {
            guard
                let row = try connection.query(
                    "SELECT s.id, s.status FROM users u JOIN users s ON s.id = \(fragment: survivor(of: "u")) WHERE u.id = \(id)"
                ).first
            else { return nil }
            return (try row.decode("id"), try IdentityRows.userStatus(row))
        }
        guard
            let asked = try connection.query("SELECT status, merged_into FROM users WHERE id = \(id)\(unescaped: lock.sql)").first
        else { return nil }
        guard let survivor: UUID = try asked.decodeIfPresent("merged_into") else { return (id, try IdentityRows.userStatus(asked)) }
        guard
            let row = try connection.query("SELECT status, merged_into FROM users WHERE id = \(survivor)\(unescaped: lock.sql)").first,
            try row.decodeIfPresent("merged_into", as: UUID.self) == nil
        else { throw PostgresError(kind: .decoding, message: "user \(id) is merged into \(survivor), which is no survivor") }
        return (survivor, try IdentityRows.userStatus(row))
    }
}
