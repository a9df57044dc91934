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

    /// Merge chains are path-compressed on every merge, so more hops than this means corrupt data.
    static let maxMergeHops = 32

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

    static func survivorRow(of id: UUID, lock: RowLock, on connection: PostgresConnection) throws -> (UUID, UserStatus)? {
        var current = id
        for _ in 0..<maxMergeHops {
            let rows = try connection.query(
                "SELECT status, merged_into FROM users WHERE id = \(current)\(unescaped: lock.sql)"
            )
            guard let row = rows.first else { return nil }
            guard let next: UUID = try row.decodeIfPresent("merged_into") else {
                return (current, try IdentityRows.userStatus(row))
            }
            current = next
        }
        throw PostgresError(kind: .decoding, message: "merge chain longer than \(maxMergeHops) hops")
    }
}
