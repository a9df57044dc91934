import AuditTrail
import Foundation
import IdentityMap
import Migration
import Support

// The wire shapes of the HTTP API (snake_case, as openapi.yaml describes them). Domain types stay
// free of Codable so the contract is written down in exactly one place.

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

struct BatchResolveRequest: Decodable {
    struct Item: Decodable {
        var pool: String?
        var iss: String?
        var sub: String

        init(pool: String?, iss: String?, sub: String) {
            self.pool = pool
            self.iss = iss
            self.sub = sub
        }

        enum CodingKeys: String, CodingKey { case pool, iss, sub }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            pool = try container.decodeUnlessAbsent(String.self, forKey: .pool)
            iss = try container.decodeUnlessAbsent(String.self, forKey: .iss)
            sub = try container.decode(String.self, forKey: .sub)
        }
    }
    var items: [Item]

    init(items: [Item]) {
        self.items = items
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

struct UsersJSON: Encodable {
    var users: [UserJSON]
}

/// A page of events. Each item is written by AuditTrail's `ExportedEvent`, the codec the exports
/// and the offline export check share, so a page and an export line spell an event alike.
struct EventPageJSON: Encodable {
    var events: [ExportedEvent]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case events
        case nextCursor = "next_cursor"
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(events, forKey: .events)
        try container.encode(nextCursor, forKey: .nextCursor)  // explicit null: the last page
    }
}

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

extension UUID {
    /// Lower-case canonical form, without Foundation's `sprintf`-based `uuidString`.
    var lowercasedString: String {
        var writer = JSONWriter(capacity: 38)
        writer.uuid(self)
        return String(decoding: writer.bytes.dropFirst().dropLast(), as: UTF8.self)
    }
}

extension KeyedDecodingContainer {
    /// An optional field: absent means nil, but an explicit `null` is refused. No request field
    /// is nullable, and reading `null` as "absent" would let a typo'd client silently reset it.
    func decodeUnlessAbsent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key) else { return nil }
        if try decodeNil(forKey: key) {
            throw DecodingError.valueNotFound(
                T.self, .init(codingPath: codingPath + [key], debugDescription: "null is not accepted; leave the field out")
            )
        }
        return try decode(T.self, forKey: key)
    }
}

struct CampaignJSON: Encodable {
    struct Source: Encodable {
        var pool: String
        var clientID: String?
        var hasClientSecret: Bool

        enum CodingKeys: String, CodingKey {
            case pool
            case clientID = "client_id"
            case hasClientSecret = "has_client_secret"
        }
    }
    var id: String
    var name: String
    var target: String
    var sources: [Source]
    var phase: String
    var stableIDAttribute: String?
    var linkBy: [String]
    var mfaUsers: String
    var targetFacts: TargetFacts
    var createdAt: String
    var phaseChangedAt: String

    /// What the triggers trust depends on (null: not read, treated as the unsafe case).
    struct TargetFacts: Encodable {
        var selfSignUp: Bool?
        var attributeWriters: [String]?
        var readAt: String?
        var problem: String?

        enum CodingKeys: String, CodingKey {
            case selfSignUp = "self_sign_up"
            case attributeWriters = "attribute_writers"
            case readAt = "read_at"
            case problem
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(selfSignUp, forKey: .selfSignUp)
            try container.encode(attributeWriters, forKey: .attributeWriters)
            try container.encode(readAt, forKey: .readAt)
            try container.encodeIfPresent(problem, forKey: .problem)
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, name, target, sources, phase
        case stableIDAttribute = "stable_id_attribute"
        case linkBy = "link_by"
        case mfaUsers = "mfa_users"
        case targetFacts = "target_facts"
        case createdAt = "created_at"
        case phaseChangedAt = "phase_changed_at"
    }

    init(_ campaign: Campaign) {
        id = campaign.id.uuidString.lowercased()
        name = campaign.name
        target = campaign.target.rawValue
        sources = campaign.sources.map { Source(pool: $0.pool.rawValue, clientID: $0.clientID, hasClientSecret: $0.hasClientSecret) }
        phase = campaign.phase.rawValue
        stableIDAttribute = campaign.stableIDAttribute
        linkBy = campaign.linkBy.map(\.rawValue)
        mfaUsers = campaign.mfaUsers.rawValue
        let facts = campaign.targetFacts
        targetFacts = TargetFacts(
            selfSignUp: facts.selfSignUp, attributeWriters: facts.attributeWriters, readAt: facts.readAt.map(RFC3339.format),
            problem: facts.problem)
        createdAt = RFC3339.format(campaign.createdAt)
        phaseChangedAt = RFC3339.format(campaign.phaseChangedAt)
    }
}

struct CampaignsJSON: Encodable {
    var campaigns: [CampaignJSON]
}
