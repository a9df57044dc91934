import Foundation
import IdentityMap
import Support

// The wire shapes of an identity in the HTTP API (snake_case, as openapi.yaml describes them).
// Domain types stay free of Codable so the contract is written down in exactly one place.

struct IdentityJSON: Codable, Sendable {
    var pool: String
    var sub: String
    var username: String
    var email: String?
    var emailVerified: Bool
    var provider: String
    var status: String
    var linkedAt: String
    var unlinkedAt: String?
    var via: String?

    enum CodingKeys: String, CodingKey {
        case pool, sub, username, email, provider, status, via
        case emailVerified = "email_verified"
        case linkedAt = "linked_at"
        case unlinkedAt = "unlinked_at"
    }

    init(_ identity: Identity) {
        pool = identity.pool.rawValue
        sub = identity.sub
        username = identity.username
        email = identity.email
        emailVerified = identity.emailVerified
        provider = identity.provider
        status = identity.status.rawValue
        linkedAt = RFC3339.format(identity.linkedAt)
        unlinkedAt = identity.unlinkedAt.map(RFC3339.format)
        via = identity.via?.rawValue
    }
}

struct IdentityRequest: Decodable {
    var pool: String
    var sub: String
    var username: String
    var email: String?
    var emailVerified: Bool?
    var provider: String?

    enum CodingKeys: String, CodingKey {
        case pool, sub, username, email, provider
        case emailVerified = "email_verified"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        pool = try container.decode(String.self, forKey: .pool)
        sub = try container.decode(String.self, forKey: .sub)
        username = try container.decode(String.self, forKey: .username)
        email = try container.decodeUnlessAbsent(String.self, forKey: .email)
        emailVerified = try container.decodeUnlessAbsent(Bool.self, forKey: .emailVerified)
        provider = try container.decodeUnlessAbsent(String.self, forKey: .provider)
    }

    func validated(at path: String = "") throws -> NewIdentity {
        guard let poolID = PoolID(pool) else {
            throw Problem.invalidRequest("\(path)pool is not a Cognito user pool id (region_suffix)")
        }
        do {
            return try NewIdentity(
                pool: poolID, sub: sub, username: username, email: email,
                emailVerified: emailVerified ?? false, provider: provider
            )
        } catch .invalidSub(let field) {
            throw Problem.from(IdentityMapError.invalidSub(field: path + field))
        } catch {
            throw Problem.invalidRequest(path + error.description)
        }
    }
}
