import Foundation
import IdentityMap
import Support

// The wire shapes of API tokens in the HTTP API (snake_case, as openapi.yaml describes them).
// Domain types stay free of Codable so the contract is written down in exactly one place.

struct TokenRequest: Decodable {
    var name: String
    var scopes: [String]
    /// Binds a token of scope `trigger` to these pools; absent: unbound.
    var pools: [String]?
}

struct TokenJSON: Encodable {
    var id: String
    var name: String
    var scopes: [String]
    /// The pools a bound trigger token may send events for; absent when it is not bound.
    var pools: [String]?
    /// `true` for a trigger token bound to no pools (it may send events for every pool); absent
    /// otherwise.
    var unboundTrigger: Bool?
    var createdAt: String
    var revokedAt: String?
    /// Present only in the answer that creates the token.
    var token: String?

    enum CodingKeys: String, CodingKey {
        case id, name, scopes, pools, token
        case unboundTrigger = "unbound_trigger"
        case createdAt = "created_at"
        case revokedAt = "revoked_at"
    }

    init(_ token: APIToken, secret: TokenSecret? = nil) {
        id = token.id.lowercasedString
        name = token.name
        scopes = token.scopes.sorted().map(\.rawValue)
        pools = token.pools.map { $0.sorted().map(\.rawValue) }
        unboundTrigger = token.isUnboundTrigger ? true : nil
        createdAt = RFC3339.format(token.createdAt)
        revokedAt = token.revokedAt.map(RFC3339.format)
        self.token = secret?.value
    }
}

struct TokensJSON: Encodable {
    var tokens: [TokenJSON]
}
