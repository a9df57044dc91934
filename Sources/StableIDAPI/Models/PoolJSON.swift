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

    enum CodingKeys: String, CodingKey {
        case id, region, name, issuer
        case roleARN = "role_arn"
        case externalID = "external_id"
        case awsProfile = "aws_profile"
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

    enum CodingKeys: String, CodingKey {
        case id, region, name, issuer
        case createdAt = "created_at"
        case roleARN = "role_arn"
        case awsProfile = "aws_profile"
        case externalIDSet = "external_id_set"
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
    }
}

struct PoolsJSON: Encodable {
    var pools: [PoolJSON]
}
