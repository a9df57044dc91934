import Foundation
import IdentityMap
import Support

// The wire shapes of users in the HTTP API (snake_case, as openapi.yaml describes them). Domain
// types stay free of Codable so the contract is written down in exactly one place.

struct UserJSON: Codable, Sendable {
    var userID: String
    var status: String
    var mergedInto: String?
    var createdAt: String
    var identities: [IdentityJSON]
    var requestedID: String?

    enum CodingKeys: String, CodingKey {
        case status, identities
        case userID = "user_id"
        case mergedInto = "merged_into"
        case createdAt = "created_at"
        case requestedID = "requested_id"
    }

    init(_ user: User) {
        userID = user.id.lowercasedString
        status = user.status.rawValue
        mergedInto = user.mergedInto?.lowercasedString
        createdAt = RFC3339.format(user.createdAt)
        identities = user.identities.map(IdentityJSON.init)
        requestedID = user.requestedID?.lowercasedString
    }
}

struct UsersJSON: Encodable {
    var users: [UserJSON]
}

struct CreateUserRequest: Decodable {
    var userID: String?
    var identities: [IdentityRequest]?

    enum CodingKeys: String, CodingKey {
        case identities
        case userID = "user_id"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        userID = try container.decodeUnlessAbsent(String.self, forKey: .userID)
        identities = try container.decodeUnlessAbsent([IdentityRequest].self, forKey: .identities)
    }
}

struct MergeRequest: Decodable {
    var from: String
}
