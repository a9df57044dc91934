public import Foundation
public import Postgres

/// A change about to be recorded: a typed details shape (its kind comes with it), the subject,
/// and the personal data it mentions.
public struct EventDraft: Sendable {
    public var kind: EventKind
    public var userID: UUID?
    public var poolID: String?
    public var sub: String?
    /// Facts that are not personal data.
    public var details: [String: JSONValue]
    /// Usernames, emails: stored apart so an erasure can delete them without touching the event.
    public var personal: EventPersonalData

    public init(
        _ details: some EventDetails,
        userID: UUID? = nil,
        pool: PoolID? = nil,
        sub: String? = nil,
        personal: EventPersonalData = EventPersonalData()
    ) {
        self.init(kind: type(of: details).kind, userID: userID, poolID: pool?.rawValue, sub: sub, details: details.json, personal: personal)
    }

    /// Untyped: for tests that must write what the service never would (forged or odd events).
    package init(
        kind: EventKind, userID: UUID? = nil, poolID: String? = nil, sub: String? = nil,
        details: [String: JSONValue] = [:], personal: EventPersonalData = EventPersonalData()
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
    /// Where the event sits in the audit chain; only read for exports that ask for it, and nil
    /// for an event not sealed yet.
    public var chain: SealedPosition?

    public init(
        id: Int64, occurredAt: Date, actor: String, kind: String, userID: UUID?, poolID: String?, sub: String?, details: JSONValue,
        personal: JSONValue?, requestID: String?, chain: SealedPosition? = nil
    ) {
        self.id = id
        self.occurredAt = occurredAt
        self.actor = actor
        self.kind = kind
        self.userID = userID
        self.poolID = poolID
        self.sub = sub
        self.details = details
        self.personal = personal
        self.requestID = requestID
        self.chain = chain
    }
}

/// An event's chain position with the exact texts its canonical bytes were built from
/// (docs/AUDIT.md): PostgreSQL's spelling of the time, the details and the personal data, which
/// a client's JSON or date formatting would not reproduce byte for byte. With these an export
/// can be checked offline against a signed checkpoint.
public struct SealedPosition: Sendable, Equatable {
    public var seq: Int64
    public var previousHash: [UInt8]
    public var hash: [UInt8]
    /// SHA-256(salt ‖ personal data text) as sealed; kept after an erasure.
    public var personalDigest: [UInt8]?
    /// `YYYY-MM-DDTHH:MM:SS.ffffffZ` as PostgreSQL printed it for the chain.
    public var occurredAt: String
    /// `details::text`
    public var detailsText: String
    /// `event_personal_data.data::text` and its salt, while they exist (gone after an erasure).
    public var personalText: String?
    public var personalSalt: [UInt8]?

    public init(
        seq: Int64, previousHash: [UInt8], hash: [UInt8], personalDigest: [UInt8]?, occurredAt: String, detailsText: String,
        personalText: String?, personalSalt: [UInt8]?
    ) {
        self.seq = seq
        self.previousHash = previousHash
        self.hash = hash
        self.personalDigest = personalDigest
        self.occurredAt = occurredAt
        self.detailsText = detailsText
        self.personalText = personalText
        self.personalSalt = personalSalt
    }
}

/// The one writer of audit events. Events are appended inside the caller's transaction, so a
/// change and its event commit or vanish together; the chain sealer picks them up after commit.
public enum EventLog {
    @discardableResult
    public static func append(_ draft: EventDraft, attribution: Attribution, on connection: PostgresConnection) throws -> Int64 {
        let details = JSONValue.object(draft.details).canonicalText
        let insert: PostgresQuery = """
            INSERT INTO events (actor, kind, user_id, pool_id, sub, details, request_id)
            VALUES (\(attribution.actor.description), \(draft.kind.rawValue), \(draft.userID), \(draft.poolID),
                    \(draft.sub), \(details)::jsonb, \(attribution.requestID))
            RETURNING id
            """
        let personal = draft.personal.json
        guard !personal.isEmpty else { return try connection.query(insert)[0].decode("id") }
        // The event and its personal data in one statement (one round trip, not two: every link
        // writes one); the foreign key is checked at the statement's end, when both rows exist.
        let rows = try connection.query(
            """
            WITH event AS (\(fragment: insert))
            INSERT INTO event_personal_data (event_id, data)
            SELECT id, \(JSONValue.object(personal).canonicalText)::jsonb FROM event
            RETURNING event_id AS id
            """
        )
        return try rows[0].decode("id")
    }

    /// The working table a set-wise append reads: `ord` (the order events get their ids in),
    /// `user_id`, `pool_id`, `sub`, `details` (jsonb: the kind's ``EventDetails`` keys) and
    /// `personal` (jsonb or NULL). Transaction-local.
    public static let batchTable = "event_log_batch"

    /// Appends one event of `kind` per row that `fill` (an `INSERT INTO event_log_batch …` over the
    /// caller's working tables) puts into ``batchTable``, set-wise: for bulk paths (imports,
    /// reconciliation) where a statement per event would dominate the run.
    ///
    /// Identity values are handed out in insert order within one statement, so the n-th id
    /// inserted pairs with the n-th batch row by `ord`; that is how personal data finds its event
    /// without a round trip per row.
    @discardableResult
    public static func appendAll(
        kind: EventKind, fill: PostgresQuery, attribution: Attribution, on connection: PostgresConnection
    ) throws -> Int {
        try connection.execute(
            """
            CREATE TEMP TABLE IF NOT EXISTS event_log_batch (
                ord bigint NOT NULL, user_id uuid, pool_id text, sub text, details jsonb NOT NULL, personal jsonb
            ) ON COMMIT DROP
            """
        )
        try connection.execute("TRUNCATE event_log_batch")
        try connection.execute(fill)
        return try connection.query(
            """
            WITH inserted AS (
                INSERT INTO events (actor, kind, user_id, pool_id, sub, details, request_id)
                SELECT \(attribution.actor.description)::text, \(kind.rawValue)::text, user_id, pool_id, sub, details,
                       \(attribution.requestID)::text
                FROM event_log_batch ORDER BY ord
                RETURNING id
            ), paired AS (
                SELECT i.id, b.personal
                FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM inserted) i
                JOIN (SELECT personal, row_number() OVER (ORDER BY ord) AS n FROM event_log_batch) b USING (n)
            ), personal AS (
                INSERT INTO event_personal_data (event_id, data)
                SELECT id, jsonb_strip_nulls(personal) FROM paired
                WHERE personal IS NOT NULL AND jsonb_strip_nulls(personal) <> '{}'::jsonb
            )
            SELECT count(*) AS n FROM inserted
            """
        )[0].decode("n")
    }

    /// The columns `decode` reads, joined with the personal data; every event query starts here.
    public static let selectColumns = """
        SELECT e.id, e.occurred_at, e.actor, e.kind, e.user_id, e.pool_id, e.sub, e.details, e.request_id,
               p.data AS personal
        FROM events e LEFT JOIN event_personal_data p ON p.event_id = e.id
        """

    /// `selectColumns` plus each event's chain position (`SealedPosition`), for exports an
    /// auditor checks offline. The chain row is probed per event (a LATERAL with LIMIT,
    /// which the planner cannot flatten): a merge join would scan `event_chain` from its start on
    /// every page, making an export quadratic.
    public static let selectColumnsWithChain = """
        SELECT e.id, e.occurred_at, e.actor, e.kind, e.user_id, e.pool_id, e.sub, e.details, e.request_id,
               p.data AS personal, p.salt AS personal_salt,
               c.seq AS chain_seq, c.prev_hash AS chain_prev_hash, c.hash AS chain_hash, c.personal_digest AS chain_personal_digest,
               to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS chain_occurred_at
        FROM events e LEFT JOIN event_personal_data p ON p.event_id = e.id
        LEFT JOIN LATERAL (SELECT * FROM event_chain WHERE event_id = e.id LIMIT 1) c ON true
        """

    public static func decode(_ row: PostgresRow) throws -> AuditEvent {
        let decoder = JSONDecoder()
        let detailsText = try row.decode("details", as: String.self)
        let details = try decoder.decode(JSONValue.self, from: Data(detailsText.utf8))
        let personalText = try row.decodeIfPresent("personal", as: String.self)
        let personal = try personalText.map { try decoder.decode(JSONValue.self, from: Data($0.utf8)) }
        var chain: SealedPosition?
        if row.hasColumn("chain_seq"), let seq = try row.decodeIfPresent("chain_seq", as: Int64.self) {
            chain = SealedPosition(
                seq: seq,
                previousHash: try row.decode("chain_prev_hash", as: PostgresBytes.self).bytes,
                hash: try row.decode("chain_hash", as: PostgresBytes.self).bytes,
                personalDigest: try row.decodeIfPresent("chain_personal_digest", as: PostgresBytes.self)?.bytes,
                occurredAt: try row.decode("chain_occurred_at"),
                detailsText: detailsText,
                personalText: personalText,
                personalSalt: try row.decodeIfPresent("personal_salt", as: PostgresBytes.self)?.bytes
            )
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
            requestID: try row.decodeIfPresent("request_id"),
            chain: chain
        )
    }
}
