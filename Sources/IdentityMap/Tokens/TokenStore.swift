import Foundation
import Postgres

/// API tokens: creation, lookup by secret, listing and revocation.
public struct TokenStore: Sendable {
    public let database: Database
    /// Revocations are announced here so every replica drops its cached copy at once.
    public static let revocationChannel = "stableid_token_revoked"

    public init(database: Database) {
        self.database = database
    }

    public static func validateName(_ name: String) throws(IdentityMapError) {
        let allowed = name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "_.:-".contains($0)) }
        guard !name.isEmpty, name.count <= 64, allowed, name.first!.isLetter || name.first!.isNumber else {
            throw .invalidInput(
                field: "name", reason: "must be 1 to 64 letters, digits, '_', '.', ':' or '-', starting with a letter or digit")
        }
    }

    /// Creates a token; the returned secret exists nowhere else.
    ///
    /// `pools` binds a token of scope `trigger`: it may then send trigger events for those pools
    /// only. Each must be registered; that is checked in the same transaction. Nil leaves the
    /// token unbound (for a trigger token: every pool).
    public func create(
        name: String, scopes: Set<Scope>, pools: Set<PoolID>? = nil, attribution: Attribution
    ) -> Write<(APIToken, TokenSecret)> {
        Write { connection in
            try Self.validateName(name)
            guard !scopes.isEmpty else { throw IdentityMapError.invalidInput(field: "scope", reason: "at least one scope is required") }
            try APIToken.checkBinding(scopes: scopes, pools: pools)
            if let pools { try IdentityRepository.requirePools(pools, on: connection) }
            let secret = TokenSecret.generate(key: try TokenChecksumKey.load(on: connection))
            let id = UUIDv7.make()
            let scopeList = scopes.sorted().map(\.rawValue)
            let poolList = pools.map { $0.sorted().map(\.rawValue) }
            let boundPools: PostgresArray<String>? = poolList.map { PostgresArray($0) }
            let rows: PostgresRows
            do {
                rows = try connection.query(
                    """
                    INSERT INTO api_tokens (id, name, token_hash, scopes, pools)
                    VALUES (\(id), \(name), \(PostgresBytes(secret.hash)), \(PostgresArray(scopeList))::text[], \(boundPools)::text[])
                    RETURNING \(unescaped: Self.columns)
                    """
                )
            } catch let error as PostgresError where error.isUniqueViolation && error.constraint == "api_tokens_active_name" {
                throw IdentityMapError.tokenNameTaken(name)
            }
            try EventLog.append(
                EventDraft(TokenCreatedDetails(tokenID: id, name: name, scopes: scopeList, pools: poolList)),
                attribution: attribution,
                on: connection
            )
            return (try Self.decode(rows[0]), secret)
        }
    }

    /// The active token with this secret, if any.
    /// Asks the primary; when it is unreachable and a replica is configured, the replica — so
    /// lookups go on through a primary outage. Revocations are writes on the primary, so none can
    /// be made meanwhile, and the replica holds every one it has replayed.
    public func authenticate(_ secret: TokenSecret) async throws -> APIToken? {
        let hash = PostgresBytes(secret.hash)
        func lookUp(on client: PostgresClient) async throws -> APIToken? {
            try await client.withConnection { connection in
                try connection.query(
                    "SELECT \(unescaped: Self.columns) FROM api_tokens WHERE token_hash = \(hash) AND revoked_at IS NULL"
                ).first.map(Self.decode)
            }
        }
        do {
            return try await lookUp(on: database.primary)
        } catch let error as PostgresError where database.reader !== database.primary && error.kind == .connection {
            // Only when the primary cannot be reached: an exhausted pool is load, not an outage,
            // and must not route a just-revoked token to a replica that has not replayed it.
            return try await lookUp(on: database.reader)
        }
    }

    /// The installation's token checksum key (it never changes once made).
    public func checksumKey() async throws -> TokenChecksumKey {
        try await database.reader.withConnection { connection in try TokenChecksumKey.load(on: connection) }
    }

    public func list(includeRevoked: Bool = false) async throws -> [APIToken] {
        try await database.primary.withConnection { connection in
            try connection.query(
                """
                SELECT \(unescaped: Self.columns) FROM api_tokens
                WHERE \(includeRevoked) OR revoked_at IS NULL ORDER BY created_at, name
                """
            ).map(Self.decode)
        }
    }

    /// Revokes the active token with this name or id, and notifies every server's token cache.
    public func revoke(nameOrID: String, attribution: Attribution) -> Write<APIToken> {
        Write { connection in
            let id = UUID(uuidString: nameOrID)
            let rows = try connection.query(
                """
                UPDATE api_tokens SET revoked_at = now()
                WHERE revoked_at IS NULL AND (name = \(nameOrID) OR id = \(id))
                RETURNING \(unescaped: Self.columns)
                """
            )
            guard let row = rows.first else { throw IdentityMapError.tokenNotFound(nameOrID) }
            let token = try Self.decode(row)
            try EventLog.append(
                EventDraft(TokenRevokedDetails(tokenID: token.id, name: token.name)),
                attribution: attribution,
                on: connection
            )
            try connection.execute("SELECT pg_notify(\(Self.revocationChannel), \(token.id))")
            return token
        }
    }

    /// The columns ``decode(_:)`` reads, for every statement that returns tokens.
    static let columns = "id, name, scopes, pools, created_at, revoked_at"

    static func decode(_ row: PostgresRow) throws -> APIToken {
        let scopes: [String] = try row.decode("scopes")
        let pools: [String]? = try row.decodeIfPresent("pools")
        return APIToken(
            id: try row.decode("id"),
            name: try row.decode("name"),
            scopes: Set(scopes.compactMap(Scope.init(rawValue:))),
            pools: pools.map { Set($0.map(PoolID.init(trusted:))) },
            createdAt: try row.decode("created_at"),
            revokedAt: try row.decodeIfPresent("revoked_at")
        )
    }
}
