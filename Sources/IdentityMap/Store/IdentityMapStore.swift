import Foundation
import Postgres

/// The identity map: users, their Cognito identities, and the rules for linking, unlinking and merging.
///
/// Every write returns a ``Write`` that records its event in the same transaction. Reads go to the
/// reader client (a replica when configured).
public struct IdentityMapStore: Sendable {
    public let database: Database
    /// Merge chains are path-compressed on every merge, so more hops than this means corrupt data.
    static let maxMergeHops = 32

    public init(database: Database) {
        self.database = database
    }

    // MARK: Reads

    public func resolve(_ reference: IdentityReference) async throws -> Resolution? {
        try await database.reader.withConnection { connection in
            try Self.resolve(reference, on: connection)
        }
    }

    /// Resolves up to ``maxBatch`` references in one round trip; answers in the order asked.
    public func resolve(batch references: [IdentityReference]) async throws -> [Resolution?] {
        guard references.count <= Self.maxBatch else {
            throw IdentityMapError.invalidInput(field: "items", reason: "at most \(Self.maxBatch) items per batch")
        }
        if references.isEmpty { return [] }
        return try await database.reader.withConnection { connection in
            try Self.resolve(batch: references, on: connection)
        }
    }

    public static let maxBatch = 1000

    /// The user, following merges to the survivor (then `requestedID` names the ID asked).
    public func user(_ id: UUID) async throws -> User? {
        try await database.reader.withConnection { connection in
            try Self.survivor(of: id, on: connection, lock: false)
        }
    }

    /// Users with an identity whose normalized email equals the given one's.
    public func users(email: String) async throws -> [User] {
        guard let normalized = EmailAddress.normalize(email) else {
            throw IdentityMapError.invalidInput(field: "email", reason: "is not an email address")
        }
        return try await database.reader.withConnection { connection in
            let ids = try connection.query(
                """
                SELECT DISTINCT user_id FROM identities
                WHERE email_normalized = \(normalized) AND status <> 'unlinked'
                ORDER BY user_id LIMIT 100
                """
            ).map { try $0.decode("user_id", as: UUID.self) }
            return try ids.compactMap { try Self.loadUser($0, on: connection) }
        }
    }

    /// A user's events, including those recorded under users merged into it, oldest first.
    public func events(of id: UUID, after cursor: Int64 = 0, limit: Int = 100) async throws -> [AuditEvent]? {
        let limit = min(max(limit, 1), 1000)
        return try await database.reader.withConnection { connection in
            guard let user = try Self.survivor(of: id, on: connection, lock: false) else { return nil }
            return try connection.query(
                """
                \(unescaped: EventLog.selectColumns)
                WHERE (e.user_id = \(user.id) OR e.user_id IN (SELECT id FROM users WHERE merged_into = \(user.id)))
                  AND e.id > \(cursor)
                ORDER BY e.id
                LIMIT \(limit)
                """
            ).map(EventLog.decode)
        }
    }

    // MARK: Writes

    /// Creates a user, with a given ID (e.g. a legacy sub) or a new UUIDv7, and its first identities.
    public func createUser(id: UUID? = nil, identities: [NewIdentity] = [], attribution: Attribution) -> Write<User> {
        Write { connection in
            var seen = Set<String>()
            for identity in identities where !seen.insert("\(identity.pool.rawValue)\u{0}\(identity.sub)").inserted {
                throw IdentityMapError.invalidInput(field: "identities", reason: "lists the same pool and sub twice")
            }
            try Self.requirePools(Set(identities.map(\.pool)), on: connection)
            let userID = id ?? UUIDv7.make()
            let created = try connection.query(
                "INSERT INTO users (id) VALUES (\(userID)) ON CONFLICT (id) DO NOTHING RETURNING id"
            )
            guard !created.isEmpty else { throw IdentityMapError.userAlreadyExists(userID) }
            try EventLog.append(
                EventDraft(
                    kind: .userCreated,
                    userID: userID,
                    details: ["given_id": .bool(id != nil), "identities": .number(Double(identities.count))]
                ),
                attribution: attribution,
                on: connection
            )
            for identity in identities {
                _ = try Self.link(identity, to: userID, on: connection, attribution: attribution)
            }
            return try Self.loadUser(userID, on: connection)!
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
            try Self.requirePools([identity.pool], on: connection)
            let user = try Self.activeSurvivor(of: userID, on: connection)
            let created = try Self.link(identity, to: user.id, on: connection, attribution: attribution)
            var result = try Self.loadUser(user.id, on: connection)!
            result.requestedID = user.requestedID
            return LinkResult(user: result, created: created)
        }
    }

    /// Unlinks (soft): the identity stays on the user with status `unlinked` and stops resolving.
    public func unlink(pool: PoolID, sub: String, from userID: UUID, attribution: Attribution) -> Write<User> {
        Write { connection in
            let user = try Self.activeSurvivor(of: userID, on: connection)
            let rows = try connection.query(
                """
                UPDATE identities i SET status = 'unlinked', unlinked_at = now(), updated_at = now()
                FROM (SELECT id, status FROM identities WHERE pool_id = \(pool.rawValue) AND sub = \(sub) AND user_id = \(user.id) FOR UPDATE) old
                WHERE i.id = old.id AND old.status <> 'unlinked'
                RETURNING old.status AS previous_status
                """
            )
            if let row = rows.first {
                try EventLog.append(
                    EventDraft(
                        kind: .identityUnlinked,
                        userID: user.id,
                        poolID: pool.rawValue,
                        sub: sub,
                        details: ["previous_status": .string(try row.decode("previous_status"))]
                    ),
                    attribution: attribution,
                    on: connection
                )
            } else {
                let existing = try connection.query(
                    "SELECT 1 FROM identities WHERE pool_id = \(pool.rawValue) AND sub = \(sub) AND user_id = \(user.id)"
                )
                // Already unlinked from this user: nothing to do, and no second event.
                guard !existing.isEmpty else { throw IdentityMapError.identityNotFound(pool: pool.rawValue, sub: sub) }
            }
            var result = try Self.loadUser(user.id, on: connection)!
            result.requestedID = user.requestedID
            return result
        }
    }

    /// Merges `from` into `survivor`: `from` becomes `merged`, its identities move, and every ID that
    /// pointed at `from` now points straight at `survivor` (so lookups never walk chains).
    public func merge(_ from: UUID, into survivor: UUID, attribution: Attribution) -> Write<User> {
        Write { connection in
            guard from != survivor else { throw IdentityMapError.cannotMergeIntoSelf }
            // Lock both rows in a fixed order so two opposite merges cannot deadlock.
            let locked = try connection.query(
                "SELECT id, status, merged_into FROM users WHERE id IN (\(from), \(survivor)) ORDER BY id FOR UPDATE"
            )
            var status: [UUID: (UserStatus, UUID?)] = [:]
            for row in locked {
                status[try row.decode("id")] = (
                    UserStatus(rawValue: try row.decode("status")) ?? .deleted, try row.decodeIfPresent("merged_into")
                )
            }
            guard let target = status[survivor] else { throw IdentityMapError.userNotFound(survivor) }
            guard let source = status[from] else { throw IdentityMapError.userNotFound(from) }
            if source.0 == .merged, source.1 == survivor {
                return try Self.loadUser(survivor, on: connection)!  // retried merge: already done
            }
            guard target.0 == .active else { throw IdentityMapError.userNotActive(survivor, target.0) }
            guard source.0 == .active else { throw IdentityMapError.userNotActive(from, source.0) }
            let moved = try connection.query(
                "UPDATE identities SET user_id = \(survivor), updated_at = now() WHERE user_id = \(from) RETURNING pool_id, sub"
            )
            try connection.execute(
                "UPDATE users SET status = 'merged', merged_into = \(survivor), updated_at = now() WHERE id = \(from)"
            )
            let repointed = try connection.execute(
                "UPDATE users SET merged_into = \(survivor), updated_at = now() WHERE merged_into = \(from)"
            )
            let movedList: [JSONValue] = try moved.map { row in
                ["pool": .string(try row.decode("pool_id")), "sub": .string(try row.decode("sub"))]
            }
            try EventLog.append(
                EventDraft(
                    kind: .userMerged,
                    userID: survivor,
                    details: [
                        "from": JSONValue(from), "survivor": JSONValue(survivor),
                        "moved_identities": .array(movedList), "repointed_merges": .number(Double(repointed)),
                    ]
                ),
                attribution: attribution,
                on: connection
            )
            return try Self.loadUser(survivor, on: connection)!
        }
    }
}

// MARK: SQL helpers (run on a leased connection)

extension IdentityMapStore {
    static let identityColumns =
        "i.pool_id, i.sub, i.username, i.email, i.email_verified, i.provider, i.status, i.linked_at, i.unlinked_at"

    static func resolve(_ reference: IdentityReference, on connection: PostgresConnection) throws -> Resolution? {
        let rows: PostgresRows
        switch reference {
        case .pool(let pool, let sub):
            rows = try connection.query(
                """
                SELECT i.user_id, u.status AS user_status, \(unescaped: identityColumns)
                FROM identities i JOIN users u ON u.id = i.user_id
                WHERE i.pool_id = \(pool.rawValue) AND i.sub = \(sub) AND i.status <> 'unlinked'
                """
            )
        case .issuer(let issuer, let sub):
            rows = try connection.query(
                """
                SELECT i.user_id, u.status AS user_status, \(unescaped: identityColumns)
                FROM pools p JOIN identities i ON i.pool_id = p.id JOIN users u ON u.id = i.user_id
                WHERE p.issuer = \(Pool.normalizeIssuer(issuer)) AND i.sub = \(sub) AND i.status <> 'unlinked'
                """
            )
        }
        return try rows.first.map(decodeResolution)
    }

    static func resolve(batch references: [IdentityReference], on connection: PostgresConnection) throws -> [Resolution?] {
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
            SELECT q.ord, i.user_id, u.status AS user_status, \(unescaped: Self.identityColumns)
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
            results[ordinal - 1] = try decodeResolution(row)
        }
        return results
    }

    static func decodeResolution(_ row: PostgresRow) throws -> Resolution {
        Resolution(
            userID: try row.decode("user_id"),
            userStatus: UserStatus(rawValue: try row.decode("user_status")) ?? .active,
            identity: try decodeIdentity(row)
        )
    }

    static func decodeIdentity(_ row: PostgresRow) throws -> Identity {
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
            unlinkedAt: try row.decodeIfPresent("unlinked_at")
        )
    }

    static func loadUser(_ id: UUID, on connection: PostgresConnection) throws -> User? {
        let rows = try connection.query("SELECT id, status, merged_into, created_at FROM users WHERE id = \(id)")
        guard let row = rows.first else { return nil }
        let identities = try connection.query(
            "SELECT \(unescaped: identityColumns) FROM identities i WHERE i.user_id = \(id) ORDER BY i.linked_at, i.id"
        ).map(decodeIdentity)
        return User(
            id: try row.decode("id"),
            status: UserStatus(rawValue: try row.decode("status")) ?? .active,
            mergedInto: try row.decodeIfPresent("merged_into"),
            createdAt: try row.decode("created_at"),
            identities: identities
        )
    }

    /// Follows `merged_into` to the survivor; `lock` takes a share lock so a concurrent merge waits.
    static func survivor(of id: UUID, on connection: PostgresConnection, lock: Bool) throws -> User? {
        var current = id
        for _ in 0..<maxMergeHops {
            let rows = try connection.query(
                "SELECT status, merged_into FROM users WHERE id = \(current)\(unescaped: lock ? " FOR SHARE" : "")"
            )
            guard let row = rows.first else { return nil }
            if let next: UUID = try row.decodeIfPresent("merged_into") {
                current = next
                continue
            }
            guard var user = try loadUser(current, on: connection) else { return nil }
            if current != id { user.requestedID = id }
            return user
        }
        throw PostgresError(kind: .decoding, message: "merge chain longer than \(maxMergeHops) hops")
    }

    static func activeSurvivor(of id: UUID, on connection: PostgresConnection) throws -> User {
        guard let user = try survivor(of: id, on: connection, lock: true) else { throw IdentityMapError.userNotFound(id) }
        guard user.status == .active else { throw IdentityMapError.userNotActive(user.id, user.status) }
        return user
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

    /// Inserts or re-activates the identity for `userID`. Returns false when it was already linked there.
    static func link(_ identity: NewIdentity, to userID: UUID, on connection: PostgresConnection, attribution: Attribution) throws -> Bool {
        let normalizedEmail = identity.email.flatMap(EmailAddress.normalize)
        let inserted: PostgresRows
        do {
            inserted = try connection.query(
                """
                INSERT INTO identities (user_id, pool_id, sub, username, email, email_normalized, email_verified, provider)
                VALUES (\(userID), \(identity.pool.rawValue), \(identity.sub), \(identity.username), \(identity.email),
                        \(normalizedEmail), \(identity.emailVerified), \(identity.provider))
                ON CONFLICT (pool_id, sub) DO NOTHING
                RETURNING id
                """
            )
        } catch let error as PostgresError where error.isUniqueViolation && error.constraint == "identities_pool_username" {
            throw IdentityMapError.usernameTaken(pool: identity.pool.rawValue, username: identity.username)
        }
        var relinkedFrom: UUID?
        if inserted.isEmpty {
            let existing = try connection.query(
                "SELECT user_id, status FROM identities WHERE pool_id = \(identity.pool.rawValue) AND sub = \(identity.sub) FOR UPDATE"
            )
            guard let row = existing.first else {
                // Deleted between our insert and select cannot happen (no deletes); treat as a race and retry.
                throw PostgresError(kind: .server, sqlState: "40001", message: "identity changed concurrently; retry")
            }
            let owner: UUID = try row.decode("user_id")
            let status: String = try row.decode("status")
            guard status == IdentityStatus.unlinked.rawValue else {
                if owner == userID { return false }
                throw IdentityMapError.identityAlreadyLinked(pool: identity.pool.rawValue, sub: identity.sub)
            }
            do {
                try connection.execute(
                    """
                    UPDATE identities SET user_id = \(userID), username = \(identity.username), email = \(identity.email),
                        email_normalized = \(normalizedEmail), email_verified = \(identity.emailVerified),
                        provider = \(identity.provider), status = 'active', linked_at = now(), unlinked_at = NULL, updated_at = now()
                    WHERE pool_id = \(identity.pool.rawValue) AND sub = \(identity.sub)
                    """
                )
            } catch let error as PostgresError where error.isUniqueViolation && error.constraint == "identities_pool_username" {
                throw IdentityMapError.usernameTaken(pool: identity.pool.rawValue, username: identity.username)
            }
            relinkedFrom = owner
        }
        var details: [String: JSONValue] = [
            "provider": .string(identity.provider), "email_verified": .bool(identity.emailVerified),
        ]
        if let relinkedFrom { details["relinked_from"] = JSONValue(relinkedFrom) }
        try EventLog.append(
            EventDraft(
                kind: .identityLinked,
                userID: userID,
                poolID: identity.pool.rawValue,
                sub: identity.sub,
                details: details,
                personal: ["username": .string(identity.username), "email": JSONValue(identity.email)]
            ),
            attribution: attribution,
            on: connection
        )
        return true
    }
}
