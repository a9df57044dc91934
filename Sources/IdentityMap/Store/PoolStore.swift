import Foundation
import Postgres

/// Registered Cognito pools.
public struct PoolStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Registers a pool. The region defaults to the id's prefix; the issuer to Cognito's URL for it.
    public func add(
        id: PoolID,
        region: String? = nil,
        name: String? = nil,
        issuer: String? = nil,
        access: PoolAccess = PoolAccess(),
        attribution: Attribution
    ) -> Write<Pool> {
        Write { connection in
            try Self.add(id: id, region: region, name: name, issuer: issuer, access: access, on: connection, attribution: attribution)
        }
    }

    static let columns = "id, region, name, issuer, created_at, role_arn, external_id, aws_profile"

    static func add(
        id: PoolID, region: String?, name: String?, issuer: String?, access: PoolAccess, on connection: PostgresConnection,
        attribution: Attribution
    ) throws -> Pool {
        let access = try access.validated()
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
            INSERT INTO pools (id, region, name, issuer, role_arn, external_id, aws_profile)
            VALUES (\(id.rawValue), \(region), \(name), \(issuer), \(access.roleARN), \(access.externalID), \(access.profile))
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
                    return details
                }(), pool: id),
            attribution: attribution,
            on: connection
        )
        return pool
    }

    public func list() async throws -> [Pool] {
        try await database.reader.withConnection { connection in
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
            )
        )
    }
}
