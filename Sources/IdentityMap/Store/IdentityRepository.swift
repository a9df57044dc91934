import Foundation
import Postgres

/// Row-level statements the write use cases share, on the caller's connection and transaction.
/// No rules here: callers ask ``LinkRules`` what to do with what these return.
enum IdentityRepository {
    /// Follows a merged ID to its survivor, share-locked so a merge cannot move it meanwhile, and
    /// insists that the survivor is active.
    static func activeSurvivor(of id: UUID, on connection: PostgresConnection) throws -> Person {
        // Writes need the survivor, not the list of everyone merged into it: one query, not two.
        guard let (survivor, status) = try Person.survivorRow(of: id, lock: .share, on: connection) else {
            throw IdentityMapError.userNotFound(id)
        }
        try LinkRules.requireActive(survivor, status: status)
        return Person(userID: survivor, status: status, requestedID: survivor == id ? nil : id, userIDs: [survivor])
    }

    static func requirePools(_ pools: Set<PoolID>, on connection: PostgresConnection) throws {
        guard !pools.isEmpty else { return }
        let ids = pools.map(\.rawValue).sorted()
        let known = Set(
            try connection.query("SELECT id FROM pools WHERE id = ANY(\(PostgresArray(ids))::text[])").map {
                try $0.decode("id", as: String.self)
            }
        )
        if let missing = ids.first(where: { !known.contains($0) }) {
            throw IdentityMapError.unknownPool(missing)
        }
    }

    /// The identity's owner and status, locked for the rest of the transaction.
    static func lockIdentity(_ key: IdentityKey, on connection: PostgresConnection) throws -> LinkRules.ExistingIdentity? {
        let rows = try connection.query(
            "SELECT user_id, status FROM identities WHERE pool_id = \(key.pool.rawValue) AND sub = \(key.sub) FOR UPDATE"
        )
        guard let row = rows.first else { return nil }
        guard let status = IdentityStatus(rawValue: try row.decode("status")) else {
            throw PostgresError(kind: .decoding, message: "stored identity is malformed")
        }
        return LinkRules.ExistingIdentity(owner: try row.decode("user_id"), status: status)
    }

    /// Inserts the identity unless its `(pool, sub)` or its live username exists; false when one
    /// did (then lock and decide: the `(pool, sub)` row, or a username taken by another sub).
    ///
    /// No conflict target: with one, a concurrent insert of the same identity could trip the
    /// username index first and report the wrong conflict; without, PostgreSQL waits for it on
    /// either index and answers "exists".
    ///
    /// A pool that is not registered fails the insert on its foreign key and is answered as
    /// ``IdentityMapError/unknownPool(_:)``: the hot paths (Cognito triggers) need no query of
    /// their own to ask first.
    static func insertIdentity(_ identity: NewIdentity, for userID: UUID, on connection: PostgresConnection) throws -> Bool {
        do {
            return try insertIdentityRow(identity, for: userID, on: connection)
        } catch let error as PostgresError where error.isForeignKeyViolation && error.constraint == "identities_pool_id_fkey" {
            throw IdentityMapError.unknownPool(identity.pool.rawValue)
        }
    }

    private static func insertIdentityRow(_ identity: NewIdentity, for userID: UUID, on connection: PostgresConnection) throws -> Bool {
        !(try connection.query(
            """
            INSERT INTO identities (user_id, pool_id, sub, username, email, email_normalized, email_verified, provider,
                                    via, campaign_id, federated_user_id)
            VALUES (\(userID), \(identity.pool.rawValue), \(identity.sub), \(identity.username), \(identity.email),
                    \(identity.normalizedEmail), \(identity.emailVerified), \(identity.provider),
                    \(identity.via.rawValue), \(identity.campaignID), \(identity.federatedUserID))
            ON CONFLICT DO NOTHING
            RETURNING id
            """
        ).isEmpty)
    }

    /// Moves an unlinked identity to `userID` with the attributes given now, and reactivates it.
    static func relinkIdentity(_ identity: NewIdentity, to userID: UUID, on connection: PostgresConnection) throws {
        try mappingUsernameConflict(identity) {
            try connection.execute(
                """
                UPDATE identities SET user_id = \(userID), username = \(identity.username), email = \(identity.email),
                    email_normalized = \(identity.normalizedEmail), email_verified = \(identity.emailVerified),
                    provider = \(identity.provider), via = \(identity.via.rawValue), campaign_id = \(identity.campaignID),
                    federated_user_id = \(identity.federatedUserID),
                    status = 'active', linked_at = now(), unlinked_at = NULL, updated_at = now()
                WHERE pool_id = \(identity.pool.rawValue) AND sub = \(identity.sub)
                """
            )
        }
    }

    private static func mappingUsernameConflict<T>(_ identity: NewIdentity, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError where error.isUniqueViolation && error.constraint == "identities_pool_username" {
            throw IdentityMapError.usernameTaken(pool: identity.pool.rawValue, username: identity.username)
        }
    }
}
