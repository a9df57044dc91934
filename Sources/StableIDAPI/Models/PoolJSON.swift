import Foundation
import IdentityMap
import Support

// The wire shapes of pools in the HTTP API (snake_case, as openapi.yaml describes them). Domain
// types stay free of Codable so the contract is written down in exactly one place.

struct PoolRequest: Decodable {
    var id: String
    var region: String?
    var name: String?
    var issuer: String?
    var roleARN: String?
    var externalID: String?
    var awsProfile: String?
    /// The app clients whose tokens `POST /v1/resolve/token` accepts; absent: any.
    var tokenClientIDs: [String]?

    enum CodingKeys: String, CodingKey {
        case id, region, name, issuer
        case roleARN = "role_arn"
        case externalID = "external_id"
        case awsProfile = "aws_profile"
        case tokenClientIDs = "token_client_ids"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        region = try container.decodeUnlessAbsent(String.self, forKey: .region)
        name = try container.decodeUnlessAbsent(String.self, forKey: .name)
        issuer = try container.decodeUnlessAbsent(String.self, forKey: .issuer)
        roleARN = try container.decodeUnlessAbsent(String.self, forKey: .roleARN)
        externalID = try container.decodeUnlessAbsent(String.self, forKey: .externalID)
        awsProfile = try container.decodeUnlessAbsent(String.self, forKey: .awsProfile)
        tokenClientIDs = try container.decodeUnlessAbsent([String].self, forKey: .tokenClientIDs)
    }
}

/// `PATCH /v1/pools/{id}`: `token_client_ids` sets the allow-list of app clients for token
/// lookups, `any_token_client: true` lifts it — exactly one of the two, so an empty list never
/// has to mean "any" (nor "none").
struct PoolUpdateRequest: Decodable {
    var tokenClientIDs: [String]?
    var anyTokenClient: Bool?

    enum CodingKeys: String, CodingKey {
        case tokenClientIDs = "token_client_ids"
        case anyTokenClient = "any_token_client"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        tokenClientIDs = try container.decodeUnlessAbsent([String].self, forKey: .tokenClientIDs)
        anyTokenClient = try container.decodeUnlessAbsent(Bool.self, forKey: .anyTokenClient)
    }

    /// The allow-list asked for; nil: any client.
    func tokenClients() throws -> [String]? {
        switch (tokenClientIDs, anyTokenClient) {
        case (let ids?, nil): return ids
        case (nil, true?): return nil
        case (nil, false?): throw Problem.invalidRequest("any_token_client can only be true; give token_client_ids to restrict")
        default: throw Problem.invalidRequest("give exactly one of token_client_ids and any_token_client")
        }
    }
}

struct PoolJSON: Encodable {
    var id: String
    var region: String
    var name: String?
    var issuer: String
    var createdAt: String
    var roleARN: String?
    var awsProfile: String?
    /// Whether an external id is set (its value is not shown).
    var externalIDSet: Bool
    /// The app clients whose tokens `POST /v1/resolve/token` accepts; absent: any.
    var tokenClientIDs: [String]?

    enum CodingKeys: String, CodingKey {
        case id, region, name, issuer
        case createdAt = "created_at"
        case roleARN = "role_arn"
        case awsProfile = "aws_profile"
        case externalIDSet = "external_id_set"
        case tokenClientIDs = "token_client_ids"
    }

    init(_ pool: Pool) {
        id = pool.id.rawValue
        region = pool.region
        name = pool.name
        issuer = pool.issuer
        createdAt = RFC3339.format(pool.createdAt)
        roleARN = pool.access.roleARN
        awsProfile = pool.access.profile
        externalIDSet = pool.access.externalID != nil
        tokenClientIDs = pool.tokenClientIDs
    }
}

struct PoolsJSON: Encodable {
    var pools: [PoolJSON]
}
