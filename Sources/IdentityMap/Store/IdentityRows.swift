import Foundation
import Postgres

/// The one place that reads identity and user rows into values: every query that returns them
/// selects ``identityColumns`` (aliased `i`) and decodes here.
enum IdentityRows {
    static let identityColumns =
        "i.pool_id, i.sub, i.username, i.email, i.email_verified, i.provider, i.status, i.linked_at, i.unlinked_at, i.via, i.campaign_id"

    static func identity(_ row: PostgresRow) throws -> Identity {
        guard let status = IdentityStatus(rawValue: try row.decode("status")) else {
            throw PostgresError(kind: .decoding, message: "stored identity is malformed")
        }
        return Identity(
            pool: PoolID(trusted: try row.decode("pool_id")),
            sub: try row.decode("sub"),
            username: try row.decode("username"),
            email: try row.decodeIfPresent("email"),
            emailVerified: try row.decode("email_verified"),
            provider: try row.decode("provider"),
            status: status,
            linkedAt: try row.decode("linked_at"),
            unlinkedAt: try row.decodeIfPresent("unlinked_at"),
            via: try row.decodeIfPresent("via", as: String.self).flatMap(LinkPath.init(rawValue:)),
            campaignID: try row.decodeIfPresent("campaign_id")
        )
    }

    /// A row of ``identityColumns`` plus `user_id` and `user_status`.
    static func resolution(_ row: PostgresRow) throws -> Resolution {
        Resolution(
            userID: try row.decode("user_id"),
            userStatus: try userStatus(row, column: "user_status"),
            identity: try identity(row)
        )
    }

    static func userStatus(_ row: PostgresRow, column: String = "status") throws -> UserStatus {
        guard let status = UserStatus(rawValue: try row.decode(column)) else {
            throw PostgresError(kind: .decoding, message: "stored user is malformed")
        }
        return status
    }

    /// The user with all its identities (oldest link first), or nil when there is no such row.
    static func loadUser(_ id: UUID, on connection: PostgresConnection) throws -> User? {
        let rows = try connection.query("SELECT id, status, merged_into, created_at FROM users WHERE id = \(id)")
        guard let row = rows.first else { return nil }
        let identities = try connection.query(
            "SELECT \(unescaped: identityColumns) FROM identities i WHERE i.user_id = \(id) ORDER BY i.linked_at, i.id"
        ).map(identity)
        return User(
            id: try row.decode("id"),
            status: try userStatus(row),
            mergedInto: try row.decodeIfPresent("merged_into"),
            createdAt: try row.decode("created_at"),
            identities: identities
        )
    }

    /// For a user that the caller's transaction just wrote: it exists.
    static func loadWritten(_ id: UUID, requestedID: UUID? = nil, on connection: PostgresConnection) throws -> User {
        guard var user = try loadUser(id, on: connection) else {
            throw PostgresError(kind: .decoding, message: "user vanished inside its own transaction")
        }
        user.requestedID = requestedID
        return user
    }
}
