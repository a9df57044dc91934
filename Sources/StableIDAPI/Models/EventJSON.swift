import AuditTrail
import Foundation
import IdentityMap
import Support

// The wire shapes of audit events in the HTTP API (snake_case, as openapi.yaml describes them).
// Domain types stay free of Codable so the contract is written down in exactly one place.

struct EventJSON: Encodable {
    var id: Int64
    var occurredAt: String
    var actor: String
    var kind: String
    var userID: String?
    var pool: String?
    var sub: String?
    var details: JSONValue
    var personal: JSONValue?
    var requestID: String?
    /// Present only when asked for (`?chain=true`): the chain object, or null while unsealed.
    var chain: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, actor, kind, pool, sub, details, personal, chain
        case occurredAt = "occurred_at"
        case userID = "user_id"
        case requestID = "request_id"
    }

    init(_ event: AuditEvent, withChain: Bool) {
        self.init(event)
        if withChain { chain = event.chain.map(ChainExport.json) ?? .null }
    }

    init(_ event: AuditEvent) {
        id = event.id
        occurredAt = RFC3339.format(event.occurredAt)
        actor = event.actor
        kind = event.kind
        userID = event.userID?.lowercasedString
        pool = event.poolID
        sub = event.sub
        details = event.details
        personal = event.personal
        requestID = event.requestID
    }
}

struct EventPageJSON: Encodable {
    var events: [EventJSON]
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
