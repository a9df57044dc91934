import Foundation
import IdentityMap

// The wire shapes of resolve answers in the HTTP API (snake_case, as openapi.yaml describes them).
// Domain types stay free of Codable so the contract is written down in exactly one place.

struct ResolutionJSON: Codable, Sendable {
    var userID: String
    var status: String
    var identity: IdentityJSON

    enum CodingKeys: String, CodingKey {
        case status, identity
        case userID = "user_id"
    }

    init(_ resolution: Resolution) {
        userID = resolution.userID.lowercasedString
        status = resolution.userStatus.rawValue
        identity = IdentityJSON(resolution.identity)
    }
}

struct BatchResolveResponse: Encodable {
    var results: [ResolutionJSON?]
    /// Items that could not be looked up (a malformed sub, say): their result is null, and the
    /// other items are answered all the same.
    var errors: [ItemError]

    struct ItemError: Encodable {
        var index: Int
        var code: String
        var detail: String
    }

    func encode(to encoder: any Encoder) throws {
        // Encode nulls explicitly: results answer the items in order, one entry each.
        var container = encoder.container(keyedBy: CodingKeys.self)
        var list = container.nestedUnkeyedContainer(forKey: .results)
        for result in results {
            if let result { try list.encode(result) } else { try list.encodeNil() }
        }
        if !errors.isEmpty { try container.encode(errors, forKey: .errors) }
    }
    enum CodingKeys: String, CodingKey { case results, errors }
}
