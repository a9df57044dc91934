import Foundation
import Postgres

/// A change about to be recorded.
public struct EventDraft: Sendable {
    public var kind: EventKind
    public var userID: UUID?
    public var poolID: String?
    public var sub: String?
    /// Facts that are not personal data.
    public var details: [String: JSONValue]
    /// Usernames, emails: stored apart so an erasure can delete them without touching the event.
    public var personal: [String: JSONValue]

    public init(
        kind: EventKind,
        userID: UUID? = nil,
        poolID: String? = nil,
        sub: String? = nil,
        details: [String: JSONValue] = [:],
        personal: [String: JSONValue] = [:]
    ) {
        self.kind = kind
        self.userID = userID
        self.poolID = poolID
        self.sub = sub
        self.details = details
        self.personal = personal
    }
}

/// A recorded event, as auditors read it.
public struct AuditEvent: Sendable, Equatable {
    public var id: Int64
    public var occurredAt: Date
    public var actor: String
    public var kind: String
    public var userID: UUID?
    public var poolID: String?
    public var sub: String?
    public var details: JSONValue
    public var personal: JSONValue?
    public var requestID: String?
}

/// Appends events inside the caller's transaction, so a change and its event commit or vanish together.
public enum EventLog {
    @discardableResult
    public static func append(_ draft: EventDraft, attribution: Attribution, on connection: PostgresConnection) throws -> Int64 {
        let details = JSONValue.object(draft.details).canonicalText
        let rows = try connection.query(
            """
            INSERT INTO events (actor, kind, user_id, pool_id, sub, details, request_id)
            VALUES (\(attribution.actor.description), \(draft.kind.rawValue), \(draft.userID), \(draft.poolID),
                    \(draft.sub), \(details)::jsonb, \(attribution.requestID))
            RETURNING id
            """
        )
        let id: Int64 = try rows[0].decode("id")
        let personal = draft.personal.filter { $0.value != .null }
        if !personal.isEmpty {
            try connection.execute(
                "INSERT INTO event_personal_data (event_id, data) VALUES (\(id), \(JSONValue.object(personal).canonicalText)::jsonb)"
            )
        }
        return id
    }

    /// The columns `decode` reads, joined with the personal data; every event query starts here.
    public static let selectColumns = """
        SELECT e.id, e.occurred_at, e.actor, e.kind, e.user_id, e.pool_id, e.sub, e.details, e.request_id,
               p.data AS personal
        FROM events e LEFT JOIN event_personal_data p ON p.event_id = e.id
        """

    public static func decode(_ row: PostgresRow) throws -> AuditEvent {
        let decoder = JSONDecoder()
        let details = try decoder.decode(JSONValue.self, from: Data(try row.decode("details", as: String.self).utf8))
        let personal = try row.decodeIfPresent("personal", as: String.self).map {
            try decoder.decode(JSONValue.self, from: Data($0.utf8))
        }
        return AuditEvent(
            id: try row.decode("id"),
            occurredAt: try row.decode("occurred_at"),
            actor: try row.decode("actor"),
            kind: try row.decode("kind"),
            userID: try row.decodeIfPresent("user_id"),
            poolID: try row.decodeIfPresent("pool_id"),
            sub: try row.decodeIfPresent("sub"),
            details: details,
            personal: personal,
            requestID: try row.decodeIfPresent("request_id")
        )
    }
}
