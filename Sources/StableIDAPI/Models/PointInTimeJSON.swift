import AuditTrail
import Foundation
import IdentityMap
import Support

// The wire shapes of `?at=T` answers (snake_case, as openapi.yaml describes them): the fields of
// `Resolution`, `User` and `Identity` that mean the same at T, plus `at` and the event that
// decided each answer, so an auditor can look it up. No username or email: answers about the
// past carry no personal data (see AuditTrail's `PointInTime`).

struct IdentityAtJSON: Encodable {
    var pool: String
    var sub: String
    /// `linked`, `unlinked` or `deleted`: the events do not tell active from disabled.
    var state: String
    var linkedTo: String
    var linkedAt: String
    var via: String?
    var provider: String?
    var decidedByEvent: Int64

    enum CodingKeys: String, CodingKey {
        case pool, sub, state, via, provider
        case linkedTo = "linked_to"
        case linkedAt = "linked_at"
        case decidedByEvent = "decided_by_event"
    }

    init(_ identity: PointInTime.IdentityAt) {
        pool = identity.pool.rawValue
        sub = identity.sub
        state = identity.state.rawValue
        linkedTo = identity.linkedTo.lowercasedString
        linkedAt = RFC3339.format(identity.linkedAt)
        via = identity.via
        provider = identity.provider
        decidedByEvent = identity.decidedBy
    }
}

struct ResolutionAtJSON: Encodable {
    var at: String
    /// The person holding the identity at T; null when it was unlinked or deleted then — it
    /// belonged to nobody, and a client reading only `user_id` must not take the last holder for
    /// the owner.
    var userID: String?
    /// The person it was last linked to (the holder at T when `state` is `linked`).
    var lastUserID: String
    /// `linked`, `unlinked` or `deleted` at T (the identity's `state`, lifted for clients that read
    /// only the top level).
    var state: String
    /// The holder's status at T: a merged user's identities sit with its survivor, so always active.
    var status: String
    var identity: IdentityAtJSON
    var decidedByEvent: Int64

    enum CodingKeys: String, CodingKey {
        case at, status, state, identity
        case userID = "user_id"
        case lastUserID = "last_user_id"
        case decidedByEvent = "decided_by_event"
    }

    init(_ identity: PointInTime.IdentityAt, at: Date) {
        self.at = RFC3339.format(at)
        lastUserID = identity.userID.lowercasedString
        userID = identity.state == .linked ? lastUserID : nil
        state = identity.state.rawValue
        status = UserStatus.active.rawValue
        self.identity = IdentityAtJSON(identity)
        decidedByEvent = identity.decidedBy
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(at, forKey: .at)
        try container.encode(userID, forKey: .userID)  // null, not absent, when it belonged to nobody
        try container.encode(lastUserID, forKey: .lastUserID)
        try container.encode(state, forKey: .state)
        try container.encode(status, forKey: .status)
        try container.encode(identity, forKey: .identity)
        try container.encode(decidedByEvent, forKey: .decidedByEvent)
    }
}

struct UserAtJSON: Encodable {
    var at: String
    var userID: String
    /// The status of `user_id` at T: a merged ID answers its survivor, so always active.
    var status: String
    var requestedID: String?
    var createdAt: String
    var identities: [IdentityAtJSON]
    var decidedByEvent: Int64

    enum CodingKeys: String, CodingKey {
        case at, status, identities
        case userID = "user_id"
        case requestedID = "requested_id"
        case createdAt = "created_at"
        case decidedByEvent = "decided_by_event"
    }

    init(_ user: PointInTime.UserAt, at: Date) {
        self.at = RFC3339.format(at)
        userID = user.userID.lowercasedString
        status = UserStatus.active.rawValue
        requestedID = user.requestedID?.lowercasedString
        createdAt = RFC3339.format(user.createdAt)
        identities = user.identities.map(IdentityAtJSON.init)
        decidedByEvent = user.decidedBy
    }
}
