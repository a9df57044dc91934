public import Foundation
import Postgres

extension IdentityMapStore {
    /// Creates a user, with a given ID (e.g. a legacy sub) or a new UUIDv7, and its first identities.
    public func createUser(id: UUID? = nil, identities: [NewIdentity] = [], attribution: Attribution) -> Write<User> {
        Write { connection in
            try LinkRules.checkDistinct(identities)
            try IdentityRepository.requirePools(Set(identities.map(\.pool)), on: connection)
            let userID = id ?? UUIDv7.make()
            let created = try connection.query(
                "INSERT INTO users (id) VALUES (\(userID)) ON CONFLICT (id) DO NOTHING RETURNING id"
            )
            guard !created.isEmpty else { throw IdentityMapError.userAlreadyExists(userID) }
            try EventLog.append(
                EventDraft(UserCreatedDetails(givenID: id != nil, identities: identities.count), userID: userID),
                attribution: attribution,
                on: connection
            )
            for identity in identities {
                _ = try Self.link(identity, to: userID, attribution: attribution, on: connection)
            }
            return try IdentityRows.loadWritten(userID, on: connection)
        }
    }

    /// The outcome of linking: whether anything changed (201) or the identity was already there (200).
    public struct LinkResult: Sendable {
        public var user: User
        public var created: Bool
    }

    /// Links an identity to a user (following a merged ID to its survivor).
    public func link(_ identity: NewIdentity, to userID: UUID, attribution: Attribution) -> Write<LinkResult> {
        Write { connection in
            try IdentityRepository.requirePools([identity.pool], on: connection)
            let person = try IdentityRepository.activeSurvivor(of: userID, on: connection)
            let created = try Self.link(identity, to: person.userID, attribution: attribution, on: connection)
            let user = try IdentityRows.loadWritten(person.userID, requestedID: person.requestedID, on: connection)
            return LinkResult(user: user, created: created)
        }
    }

    /// Links like ``link(_:to:attribution:)`` but answers only the person's id, without reloading
    /// the user: for hot paths (Cognito triggers) that need nothing else.
    /// An unregistered pool is found by the identity's insert (its foreign key), not asked first.
    public func linkIdentity(_ identity: NewIdentity, to userID: UUID, attribution: Attribution) -> Write<UUID> {
        Write { connection in
            let person = try IdentityRepository.activeSurvivor(of: userID, on: connection)
            _ = try Self.link(identity, to: person.userID, attribution: attribution, on: connection)
            return person.userID
        }
    }

    /// A new person with one identity, answering only its id (see ``linkIdentity(_:to:attribution:)``).
    public func createPerson(with identity: NewIdentity, attribution: Attribution) -> Write<UUID> {
        Write { connection in
            let userID = UUIDv7.make()
            try connection.execute("INSERT INTO users (id) VALUES (\(userID))")
            try EventLog.append(
                EventDraft(UserCreatedDetails(givenID: false, identities: 1), userID: userID), attribution: attribution, on: connection
            )
            _ = try Self.link(identity, to: userID, attribution: attribution, on: connection)
            return userID
        }
    }

    /// Unlinks (soft): the identity stays on the user with status `unlinked` and stops resolving.
    public func unlink(pool: PoolID, sub: String, from userID: UUID, attribution: Attribution) -> Write<User> {
        Write { connection in
            let person = try IdentityRepository.activeSurvivor(of: userID, on: connection)
            let key = IdentityKey(pool: pool, sub: sub)
            let existing = try IdentityRepository.lockIdentity(key, on: connection)
            let owned = existing.flatMap { $0.owner == person.userID ? $0.status : nil }
            switch LinkRules.unlink(existing: owned, pool: pool, sub: sub) {
            case .refuse(let error):
                throw error
            case .unchanged:
                break
            case .unlink(let previousStatus):
                try connection.execute(
                    """
                    UPDATE identities SET status = 'unlinked', unlinked_at = now(), updated_at = now()
                    WHERE pool_id = \(pool.rawValue) AND sub = \(sub)
                    """
                )
                try EventLog.append(
                    EventDraft(IdentityUnlinkedDetails(previousStatus: previousStatus), userID: person.userID, pool: pool, sub: sub),
                    attribution: attribution,
                    on: connection
                )
            }
            return try IdentityRows.loadWritten(person.userID, requestedID: person.requestedID, on: connection)
        }
    }

    /// Links `identity` to the active user `userID` inside the caller's transaction. Returns false
    /// when it was already linked there (nothing written).
    static func link(_ identity: NewIdentity, to userID: UUID, attribution: Attribution, on connection: PostgresConnection) throws -> Bool {
        let key = IdentityKey(pool: identity.pool, sub: identity.sub)
        var relinkedFrom: UUID?
        if try !IdentityRepository.insertIdentity(identity, for: userID, on: connection) {
            // It exists: lock it and let the rules decide. No identity is ever deleted, so the
            // row the insert collided with is still there.
            guard let existing = try IdentityRepository.lockIdentity(key, on: connection) else {
                // No identity is ever deleted: what the insert met is the username, live under another sub.
                throw IdentityMapError.usernameTaken(pool: identity.pool.rawValue, username: identity.username)
            }
            switch LinkRules.link(existing: existing, pool: identity.pool, sub: identity.sub, to: userID) {
            case .insert: throw RetryableConflict("identity changed concurrently")
            case .unchanged: return false
            case .refuse(let error): throw error
            case .relink(let previousOwner):
                try IdentityRepository.relinkIdentity(identity, to: userID, on: connection)
                relinkedFrom = previousOwner
            }
        }
        try EventLog.append(
            EventDraft(
                IdentityLinkedDetails(
                    provider: identity.provider, emailVerified: identity.emailVerified, relinkedFrom: relinkedFrom,
                    via: identity.via, campaignID: identity.campaignID
                ),
                userID: userID,
                pool: identity.pool,
                sub: identity.sub,
                personal: EventPersonalData(username: identity.username, email: identity.email)
            ),
            attribution: attribution,
            on: connection
        )
        return true
    }
}
