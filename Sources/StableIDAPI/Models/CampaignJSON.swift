import Foundation
import IdentityMap
import Support
import UserMigration

// The wire shapes of campaigns in the HTTP API (snake_case, as openapi.yaml describes them). Domain
// types stay free of Codable so the contract is written down in exactly one place.

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
    /// Absent: every source user.
    var subset: Subset?

    /// The source users the campaign is about: attribute conditions (all must hold) and the member
    /// file's counts (never its usernames).
    struct Subset: Encodable {
        struct Condition: Encodable {
            var attribute: String
            var values: [String]
        }
        struct Members: Encodable {
            var usernames: Int
            var subs: Int
        }
        var only: [Condition]
        /// Absent: no member file.
        var members: Members?
    }

    /// What the triggers trust depends on (null: not read, treated as the unsafe case).
    struct TargetFacts: Encodable {
        var selfSignUp: Bool?
        var attributeWriters: [String]?
        var signInByEmail: Bool?
        var readAt: String?
        var problem: String?

        enum CodingKeys: String, CodingKey {
            case selfSignUp = "self_sign_up"
            case attributeWriters = "attribute_writers"
            case signInByEmail = "sign_in_by_email"
            case readAt = "read_at"
            case problem
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(selfSignUp, forKey: .selfSignUp)
            try container.encode(attributeWriters, forKey: .attributeWriters)
            try container.encode(signInByEmail, forKey: .signInByEmail)
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
        case subset
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
            selfSignUp: facts.selfSignUp, attributeWriters: facts.attributeWriters, signInByEmail: facts.signInByEmail,
            readAt: facts.readAt.map(RFC3339.format),
            problem: facts.problem)
        createdAt = RFC3339.format(campaign.createdAt)
        phaseChangedAt = RFC3339.format(campaign.phaseChangedAt)
        subset = campaign.subset.map { subset in
            Subset(
                only: subset.conditions.map { Subset.Condition(attribute: $0.attribute, values: $0.values) },
                members: subset.members.map { Subset.Members(usernames: $0.usernames, subs: $0.subs) })
        }
    }
}

struct CampaignsJSON: Encodable {
    var campaigns: [CampaignJSON]
}
