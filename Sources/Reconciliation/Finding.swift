public import Foundation
public import IdentityMap
import Postgres

/// A finding as operators read it (`stableid findings list|show`, `GET /v1/reconciliation/findings`).
public struct Finding: Sendable, Equatable, Codable {
    public var id: Int64
    public var kind: FindingKind
    public var subject: String
    public var scope: String
    public var campaignID: UUID?
    public var pool: String?
    public var sub: String?
    public var userID: UUID?
    /// The effective state: an acknowledgement whose `ackUntil` has passed reads as `open`.
    public var state: FindingState
    public var firstSeenRun: UUID
    public var lastSeenRun: UUID
    public var firstSeenAt: Date
    public var lastSeenAt: Date
    public var resolvedAt: Date?
    public var ackBy: String?
    public var ackReason: String?
    public var ackUntil: Date?
    public var acknowledgedAt: Date?
    public var evidence: JSONValue

    enum CodingKeys: String, CodingKey {
        case id, kind, subject, scope, pool, sub, state, evidence
        case campaignID = "campaign_id"
        case userID = "user_id"
        case firstSeenRun = "first_seen_run"
        case lastSeenRun = "last_seen_run"
        case firstSeenAt = "first_seen_at"
        case lastSeenAt = "last_seen_at"
        case resolvedAt = "resolved_at"
        case ackBy = "ack_by"
        case ackReason = "ack_reason"
        case ackUntil = "ack_until"
        case acknowledgedAt = "acknowledged_at"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        kind = try container.decode(FindingKind.self, forKey: .kind)
        subject = try container.decode(String.self, forKey: .subject)
        scope = try container.decode(String.self, forKey: .scope)
        campaignID = try container.decodeID(forKey: .campaignID)
        pool = try container.decodeIfPresent(String.self, forKey: .pool)
        sub = try container.decodeIfPresent(String.self, forKey: .sub)
        userID = try container.decodeID(forKey: .userID)
        state = try container.decode(FindingState.self, forKey: .state)
        firstSeenRun = try container.requireID(forKey: .firstSeenRun)
        lastSeenRun = try container.requireID(forKey: .lastSeenRun)
        firstSeenAt = try container.requireTime(forKey: .firstSeenAt)
        lastSeenAt = try container.requireTime(forKey: .lastSeenAt)
        resolvedAt = try container.decodeTime(forKey: .resolvedAt)
        ackBy = try container.decodeIfPresent(String.self, forKey: .ackBy)
        ackReason = try container.decodeIfPresent(String.self, forKey: .ackReason)
        ackUntil = try container.decodeTime(forKey: .ackUntil)
        acknowledgedAt = try container.decodeTime(forKey: .acknowledgedAt)
        evidence = try container.decodeIfPresent(JSONValue.self, forKey: .evidence) ?? .object([:])
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kind, forKey: .kind)
        try container.encode(subject, forKey: .subject)
        try container.encode(scope, forKey: .scope)
        try container.encodeID(campaignID, forKey: .campaignID)
        try container.encodeIfPresent(pool, forKey: .pool)
        try container.encodeIfPresent(sub, forKey: .sub)
        try container.encodeID(userID, forKey: .userID)
        try container.encode(state, forKey: .state)
        try container.encodeID(firstSeenRun, forKey: .firstSeenRun)
        try container.encodeID(lastSeenRun, forKey: .lastSeenRun)
        try container.encodeTime(firstSeenAt, forKey: .firstSeenAt)
        try container.encodeTime(lastSeenAt, forKey: .lastSeenAt)
        try container.encodeTime(resolvedAt, forKey: .resolvedAt)
        try container.encodeIfPresent(ackBy, forKey: .ackBy)
        try container.encodeIfPresent(ackReason, forKey: .ackReason)
        try container.encodeTime(ackUntil, forKey: .ackUntil)
        try container.encodeTime(acknowledgedAt, forKey: .acknowledgedAt)
        try container.encode(evidence, forKey: .evidence)
    }
}

/// Which findings to list or acknowledge; nil fields do not filter.
public struct FindingFilter: Sendable, Equatable {
    public var kinds: Set<FindingKind>
    /// Effective state (an expired acknowledgement is `open`).
    public var state: FindingState?
    public var campaignID: UUID?
    public var pool: PoolID?
    /// A run scope key (`campaign:<id>`, `pools:<id>,…`).
    public var scope: String?
    public var userID: UUID?

    public init(
        kinds: Set<FindingKind> = [], state: FindingState? = nil, campaignID: UUID? = nil, pool: PoolID? = nil, scope: String? = nil,
        userID: UUID? = nil
    ) {
        self.kinds = kinds
        self.state = state
        self.campaignID = campaignID
        self.pool = pool
        self.scope = scope
        self.userID = userID
    }
}

/// The SQL every reader of `findings` shares, so "open" means the same in a count, a list, a
/// fix and an acknowledgement.
enum FindingSQL {
    /// The effective state of the row aliased `f` (IdentityMap's ``FindingOpenRule``, which
    /// `campaign finalize` reads findings by too).
    static let effectiveState = FindingOpenRule.effectiveState(of: "f")

    static let columns = """
        f.id, f.kind, f.subject, f.scope, f.campaign_id, f.pool_id, f.sub, f.user_id, \(effectiveState) AS state,
        f.first_seen_run, f.last_seen_run, f.first_seen_at, f.last_seen_at, f.resolved_at, f.ack_by, f.ack_reason, f.ack_until,
        f.acknowledged_at, f.evidence
        """

    /// `AND …` conditions for `filter` on the row aliased `f`.
    static func conditions(_ filter: FindingFilter) -> PostgresQuery {
        let kinds = filter.kinds.isEmpty ? nil : PostgresArray(filter.kinds.map(\.rawValue).sorted())
        return """
            AND (\(kinds)::text[] IS NULL OR f.kind = ANY(\(kinds)::text[]))
            AND (\(filter.state?.rawValue)::text IS NULL OR \(unescaped: effectiveState) = \(filter.state?.rawValue)::text)
            AND (\(filter.campaignID)::uuid IS NULL OR f.campaign_id = \(filter.campaignID)::uuid)
            AND (\(filter.pool?.rawValue)::text IS NULL OR f.pool_id = \(filter.pool?.rawValue)::text)
            AND (\(filter.scope)::text IS NULL OR f.scope = \(filter.scope)::text)
            AND (\(filter.userID)::uuid IS NULL OR f.user_id = \(filter.userID)::uuid)
            """
    }

    static func decode(_ row: PostgresRow) throws -> Finding {
        guard let kind = FindingKind(rawValue: try row.decode("kind")),
            let state = FindingState(rawValue: try row.decode("state"))
        else { throw PostgresError(kind: .decoding, message: "stored finding is malformed") }
        let evidence = try JSONDecoder().decode(JSONValue.self, from: Data(try row.decode("evidence", as: String.self).utf8))
        return Finding(
            id: try row.decode("id"), kind: kind, subject: try row.decode("subject"), scope: try row.decode("scope"),
            campaignID: try row.decodeIfPresent("campaign_id"), pool: try row.decodeIfPresent("pool_id"),
            sub: try row.decodeIfPresent("sub"), userID: try row.decodeIfPresent("user_id"), state: state,
            firstSeenRun: try row.decode("first_seen_run"), lastSeenRun: try row.decode("last_seen_run"),
            firstSeenAt: try row.decode("first_seen_at"), lastSeenAt: try row.decode("last_seen_at"),
            resolvedAt: try row.decodeIfPresent("resolved_at"), ackBy: try row.decodeIfPresent("ack_by"),
            ackReason: try row.decodeIfPresent("ack_reason"), ackUntil: try row.decodeIfPresent("ack_until"),
            acknowledgedAt: try row.decodeIfPresent("acknowledged_at"), evidence: evidence
        )
    }

    /// Open findings per kind in `scope`, as `counts` reports them.
    static func openCounts(scope: String, on connection: PostgresConnection) throws -> FindingCounts {
        var counts = FindingCounts()
        for row in try connection.query(
            """
            SELECT f.kind, count(*) AS n FROM findings f
            WHERE f.scope = \(scope) AND \(unescaped: effectiveState) = 'open'
            GROUP BY f.kind
            """
        ) {
            if let kind = FindingKind(rawValue: try row.decode("kind")) { counts[kind] = try row.decode("n") }
        }
        return counts
    }
}

extension Finding {
    /// Memberwise, for the decoder above (the Codable initializer replaces the synthesized one).
    init(
        id: Int64, kind: FindingKind, subject: String, scope: String, campaignID: UUID?, pool: String?, sub: String?, userID: UUID?,
        state: FindingState, firstSeenRun: UUID, lastSeenRun: UUID, firstSeenAt: Date, lastSeenAt: Date, resolvedAt: Date?,
        ackBy: String?, ackReason: String?, ackUntil: Date?, acknowledgedAt: Date?, evidence: JSONValue
    ) {
        self.id = id
        self.kind = kind
        self.subject = subject
        self.scope = scope
        self.campaignID = campaignID
        self.pool = pool
        self.sub = sub
        self.userID = userID
        self.state = state
        self.firstSeenRun = firstSeenRun
        self.lastSeenRun = lastSeenRun
        self.firstSeenAt = firstSeenAt
        self.lastSeenAt = lastSeenAt
        self.resolvedAt = resolvedAt
        self.ackBy = ackBy
        self.ackReason = ackReason
        self.ackUntil = ackUntil
        self.acknowledgedAt = acknowledgedAt
        self.evidence = evidence
    }
}
