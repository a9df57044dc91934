import Foundation
import Postgres

/// Registered Cognito pools.
public struct PoolStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Registers a pool. The region defaults to the id's prefix; the issuer to Cognito's URL for it.
    /// `tokenClientIDs`: the app clients whose tokens `POST /v1/resolve/token` accepts (nil: any).
    public func add(
        id: PoolID,
        region: String? = nil,
        name: String? = nil,
        issuer: String? = nil,
        access: PoolAccess = PoolAccess(),
        tokenClientIDs: [String]? = nil,
        attribution: Attribution
    ) -> Write<Pool> {
        Write { connection in
            try Self.add(
                id: id, region: region, name: name, issuer: issuer, access: access, tokenClientIDs: tokenClientIDs, on: connection,
                attribution: attribution)
        }
    }

    /// Sets the app clients whose tokens `POST /v1/resolve/token` accepts for pool `id`, or lifts
    /// the restriction (nil), with a `pool_token_clients_changed` event — none when nothing changes.
    public func setTokenClients(_ tokenClientIDs: [String]?, of id: PoolID, attribution: Attribution) -> Write<Pool> {
        Write { connection in
            let wanted = try Pool.validatedTokenClientIDs(tokenClientIDs)
            // Locked, so two changes at once each record the list they replaced.
            let locked = try connection.query("SELECT \(unescaped: Self.columns) FROM pools WHERE id = \(id.rawValue) FOR UPDATE")
            guard let current = try locked.first.map(Self.decode) else { throw IdentityMapError.unknownPool(id.rawValue) }
            guard current.tokenClientIDs != wanted else { return current }
            let rows = try connection.query(
                "UPDATE pools SET token_client_ids = \(wanted.map { PostgresArray($0) }) WHERE id = \(id.rawValue) RETURNING \(unescaped: Self.columns)"
            )
            guard let row = rows.first else { throw IdentityMapError.unknownPool(id.rawValue) }
            try EventLog.append(
                EventDraft(PoolTokenClientsChangedDetails(from: current.tokenClientIDs, to: wanted), pool: id),
                attribution: attribution, on: connection
            )
            return try Self.decode(row)
        }
    }

    static let columns = "id, region, name, issuer, created_at, role_arn, external_id, aws_profile, token_client_ids"

    static func add(
        id: PoolID, region: String?, name: String?, issuer: String?, access: PoolAccess, tokenClientIDs: [String]? = nil,
        on connection: PostgresConnection, attribution: Attribution
    ) throws -> Pool {
        let access = try access.validated()
        let tokenClientIDs = try Pool.validatedTokenClientIDs(tokenClientIDs)
        let region = region ?? id.region
        guard PoolID.isRegion(region) else {
            throw IdentityMapError.invalidInput(field: "region", reason: "is not an AWS region name")
        }
        if let name, !NewIdentity.isPrintable(name, maxLength: 128) {
            throw IdentityMapError.invalidInput(field: "name", reason: "must be 1 to 128 printable characters")
        }
        let issuer = Pool.normalizeIssuer(issuer ?? "https://cognito-idp.\(region).amazonaws.com/\(id.rawValue)")
        guard issuer.hasPrefix("https://") || issuer.hasPrefix("http://"), issuer.utf8.count <= 512,
            issuer.utf8.allSatisfy({ (0x21...0x7e).contains($0) })
        else {
            throw IdentityMapError.invalidInput(field: "issuer", reason: "must be an http(s) URL")
        }
        let rows = try connection.query(
            """
            INSERT INTO pools (id, region, name, issuer, role_arn, external_id, aws_profile, token_client_ids)
            VALUES (
                \(id.rawValue), \(region), \(name), \(issuer), \(access.roleARN), \(access.externalID), \(access.profile),
                \(tokenClientIDs.map { PostgresArray($0) })
            )
            ON CONFLICT DO NOTHING
            RETURNING \(unescaped: columns)
            """
        )
        guard let row = rows.first else { throw IdentityMapError.poolAlreadyExists(id.rawValue) }
        let pool = try decode(row)
        try EventLog.append(
            EventDraft(
                {
                    var details = PoolAddedDetails(region: region, issuer: issuer, name: name)
                    details.access = access
                    details.tokenClientIDs = tokenClientIDs
                    return details
                }(), pool: id),
            attribution: attribution,
            on: connection
        )
        return pool
    }

    /// Every registered pool, from the reader; `fromPrimary` for a caller that must see a change it
    /// may just have made (token lookups after an allow-list was narrowed: a lagging replica would
    /// keep accepting the client taken off it).
    public func list(fromPrimary: Bool = false) async throws -> [Pool] {
        try await (fromPrimary ? database.primary : database.reader).withConnection { connection in
            try connection.query("SELECT \(unescaped: Self.columns) FROM pools ORDER BY id").map(Self.decode)
        }
    }

    public func pool(_ id: PoolID) async throws -> Pool? {
        try await database.reader.withConnection { connection in try Self.pool(id, on: connection) }
    }

    static func pool(_ id: PoolID, on connection: PostgresConnection) throws -> Pool? {
        try connection.query("SELECT \(unescaped: columns) FROM pools WHERE id = \(id.rawValue)").first.map(decode)
    }

    static func decode(_ row: PostgresRow) throws -> Pool {
        guard let id = PoolID(try row.decode("id", as: String.self)) else {
            throw PostgresError(kind: .decoding, message: "stored pool id is malformed")
        }
        return Pool(
            id: id,
            region: try row.decode("region"),
            name: try row.decodeIfPresent("name"),
            issuer: try row.decode("issuer"),
            createdAt: try row.decode("created_at"),
            access: PoolAccess(
                roleARN: try row.decodeIfPresent("role_arn"), externalID: try row.decodeIfPresent("external_id"),
                profile: try row.decodeIfPresent("aws_profile")
            ),
            tokenClientIDs: try row.decodeIfPresent("token_client_ids")
        )
    }
}
