public import Foundation
public import IdentityMap
import Postgres

/// Findings and runs as operators and the API read them, and acknowledgements (the one write an
/// operator makes to a finding; runs make the others). Reads go to the reader.
public struct FindingStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public static let maxPage = 1_000
    /// The most findings one acknowledgement covers: its event lists every id.
    public static let maxAcknowledge = 10_000

    /// Findings matching `filter` with id > `after`, oldest first (keyset pages: pass the last id).
    public func list(_ filter: FindingFilter = FindingFilter(), after: Int64 = 0, limit: Int = 100) async throws -> [Finding] {
        let limit = min(max(limit, 1), Self.maxPage)
        return try await database.reader.withConnection { connection in
            try connection.query(
                """
                SELECT \(unescaped: FindingSQL.columns) FROM findings f
                WHERE f.id > \(after) \(fragment: FindingSQL.conditions(filter))
                ORDER BY f.id LIMIT \(limit)
                """
            ).map(FindingSQL.decode)
        }
    }

    public func finding(_ id: Int64) async throws -> Finding? {
        try await database.reader.withConnection { connection in
            try connection.query("SELECT \(unescaped: FindingSQL.columns) FROM findings f WHERE f.id = \(id)").first.map(FindingSQL.decode)
        }
    }

    /// Open findings per kind, for a scope or across all of them.
    public func openCounts(scope: String? = nil) async throws -> FindingCounts {
        try await database.reader.withConnection { connection in
            var counts = FindingCounts()
            for row in try connection.query(
                """
                SELECT f.kind, count(*) AS n FROM findings f
                WHERE (\(scope)::text IS NULL OR f.scope = \(scope)::text) AND \(unescaped: FindingSQL.effectiveState) = 'open'
                GROUP BY f.kind
                """
            ) {
                if let kind = FindingKind(rawValue: try row.decode("kind")) { counts[kind] = try row.decode("n") }
            }
            return counts
        }
    }

    // MARK: Acknowledging

    /// Acknowledges findings by id: they stop counting as open (until `until`, if given). An
    /// acknowledged finding may be acknowledged again (a new reason, a later deadline); a resolved
    /// one may not. One `finding_acknowledged` event lists them all. Returns the ids acknowledged.
    public func acknowledge(_ ids: [Int64], reason: String, until: Date? = nil, attribution: Attribution) -> Write<[Int64]> {
        Write { connection in
            let reason = try Self.validated(reason: reason, until: until)
            let ids = Array(Set(ids)).sorted()
            guard !ids.isEmpty else { return [] }
            guard ids.count <= Self.maxAcknowledge else {
                throw ReconciliationError.tooManyFindings(matched: ids.count, limit: Self.maxAcknowledge)
            }
            let existing = try connection.query(
                "SELECT f.id, f.state FROM findings f WHERE f.id = ANY(\(PostgresArray(ids))::bigint[]) FOR UPDATE"
            )
            var states: [Int64: String] = [:]
            for row in existing { states[try row.decode("id")] = try row.decode("state", as: String.self) }
            if let missing = ids.first(where: { states[$0] == nil }) { throw ReconciliationError.findingNotFound(missing) }
            if let resolved = ids.first(where: { states[$0] == FindingState.resolved.rawValue }) {
                throw ReconciliationError.invalidAcknowledgement("finding \(resolved) is resolved; only open findings can be acknowledged")
            }
            return try Self.acknowledge(ids: ids, reason: reason, until: until, attribution: attribution, on: connection)
        }
    }

    /// Acknowledges every finding that matches `filter` and is not resolved, in one request
    /// (at most ``maxAcknowledge``; more is refused so that the operator narrows the filter).
    public func acknowledge(
        matching filter: FindingFilter, reason: String, until: Date? = nil, attribution: Attribution
    )
        -> Write<[Int64]>
    {
        Write { connection in
            let reason = try Self.validated(reason: reason, until: until)
            let rows = try connection.query(
                """
                SELECT f.id FROM findings f
                WHERE f.state <> 'resolved' \(fragment: FindingSQL.conditions(filter))
                ORDER BY f.id LIMIT \(Self.maxAcknowledge + 1)
                FOR UPDATE
                """
            )
            guard rows.count <= Self.maxAcknowledge else {
                let matched: Int = try connection.query(
                    "SELECT count(*) AS n FROM findings f WHERE f.state <> 'resolved' \(fragment: FindingSQL.conditions(filter))"
                )[0].decode("n")
                throw ReconciliationError.tooManyFindings(matched: matched, limit: Self.maxAcknowledge)
            }
            let ids = try rows.map { try $0.decode("id", as: Int64.self) }
            guard !ids.isEmpty else { return [] }
            return try Self.acknowledge(ids: ids, reason: reason, until: until, attribution: attribution, on: connection)
        }
    }

    static func acknowledge(
        ids: [Int64], reason: String, until: Date?, attribution: Attribution, on connection: PostgresConnection
    ) throws -> [Int64] {
        let rows = try connection.query(
            """
            UPDATE findings f SET state = 'acknowledged', ack_by = \(attribution.actor.description), ack_reason = \(reason),
                ack_until = \(until), acknowledged_at = now()
            WHERE f.id = ANY(\(PostgresArray(ids))::bigint[]) AND f.state <> 'resolved'
            RETURNING f.id, f.pool_id, f.sub, f.user_id, f.subject
            """
        )
        let acknowledged = try rows.map { try $0.decode("id", as: Int64.self) }.sorted()
        // A single finding's event names its subject, so it shows up in that person's history.
        let single = rows.count == 1 ? rows.first : nil
        let userID = try single?.decodeIfPresent("user_id", as: UUID.self)
        let pool = try single?.decodeIfPresent("pool_id", as: String.self)
        let sub = try single?.decodeIfPresent("sub", as: String.self)
        let details = JSONValue.object(FindingAcknowledgedDetails(findings: acknowledged, until: until).json).canonicalText
        // The reason is free text that may name a person: it goes to the event's personal data,
        // which an erasure can delete — with a single finding's personal subject, by which
        // erasure finds it. (`EventDraft`'s personal data has fixed keys, so the set-wise append,
        // which takes any object, writes this one event.)
        var personalData = FindingAcknowledgedDetails.personal(reason: reason)
        if let subject = try single?.decode("subject", as: String.self) {
            personalData.merge(FindingEventSubject.personal(subject)) { $1 }
        }
        let personal = JSONValue.object(personalData).canonicalText
        try EventLog.appendAll(
            kind: FindingAcknowledgedDetails.kind,
            fill: """
                INSERT INTO event_log_batch (ord, user_id, pool_id, sub, details, personal)
                VALUES (1, \(userID)::uuid, \(pool)::text, \(sub)::text, \(details)::jsonb, \(personal)::jsonb)
                """,
            attribution: attribution,
            on: connection
        )
        return acknowledged
    }

    static func validated(reason: String, until: Date?) throws(ReconciliationError) -> String {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...500).contains(reason.count),
            reason.unicodeScalars.allSatisfy({ !$0.properties.generalCategory.isControlLike })
        else { throw .invalidAcknowledgement("give a reason of 1 to 500 characters without control characters") }
        if let until, until <= Date() { throw .invalidAcknowledgement("--until must be in the future") }
        return reason
    }

    // MARK: Runs

    /// Runs newest first, with id < `before` (keyset pages: run ids are UUIDv7, time-ordered).
    public func runs(scope: String? = nil, before: UUID? = nil, limit: Int = 50) async throws -> [ReconcileReport] {
        let limit = min(max(limit, 1), Self.maxPage)
        return try await database.reader.withConnection { connection in
            try connection.query(
                """
                SELECT \(unescaped: RunRows.columns) FROM reconcile_runs r
                WHERE (\(scope)::text IS NULL OR r.scope = \(scope)::text) AND (\(before)::uuid IS NULL OR r.id < \(before)::uuid)
                ORDER BY r.id DESC LIMIT \(limit)
                """
            ).map(RunRows.decode)
        }
    }

    public func run(_ id: UUID) async throws -> ReconcileReport? {
        try await database.reader.withConnection { connection in
            try connection.query("SELECT \(unescaped: RunRows.columns) FROM reconcile_runs r WHERE r.id = \(id)").first.map(RunRows.decode)
        }
    }

    /// The newest completed run (of a scope, or of any), for `/metrics` and the textfile exporter.
    public func latestCompletedRun(scope: String? = nil) async throws -> ReconcileReport? {
        try await database.reader.withConnection { connection in
            try connection.query(
                """
                SELECT \(unescaped: RunRows.columns) FROM reconcile_runs r
                WHERE r.status = 'completed' AND (\(scope)::text IS NULL OR r.scope = \(scope)::text)
                ORDER BY r.id DESC LIMIT 1
                """
            ).first.map(RunRows.decode)
        }
    }
}

/// The one decoder of `reconcile_runs` rows.
enum RunRows {
    static let columns = """
        r.id, r.scope, r.campaign_id, r.pools, r.source, r.status, r.actor, r.started_at, r.finished_at, r.scanned, r.counts,
        r.opened, r.resolved, r.warnings, r.error
        """

    static func decode(_ row: PostgresRow) throws -> ReconcileReport {
        func json<T: Decodable>(_ column: String, as type: T.Type) throws -> T {
            try JSONDecoder().decode(T.self, from: Data(try row.decode(column, as: String.self).utf8))
        }
        guard let source = ReconcileSource(rawValue: try row.decode("source")),
            let status = ReconcileRunStatus(rawValue: try row.decode("status"))
        else { throw PostgresError(kind: .decoding, message: "stored reconciliation run is malformed") }
        let run = ReconcileReport.Run(
            id: try row.decode("id"), scope: try row.decode("scope"), campaignID: try row.decodeIfPresent("campaign_id"),
            pools: try row.decode("pools"), source: source, status: status, actor: try row.decode("actor"),
            startedAt: try row.decode("started_at"), finishedAt: try row.decodeIfPresent("finished_at"),
            scanned: try json("scanned", as: [String: Int].self), error: try row.decodeIfPresent("error")
        )
        return ReconcileReport(
            run: run,
            counts: FindingCounts(dictionary: try json("counts", as: [String: Int].self)),
            new: FindingCounts(dictionary: try json("opened", as: [String: Int].self)),
            resolved: FindingCounts(dictionary: try json("resolved", as: [String: Int].self)),
            warnings: try json("warnings", as: [String].self)
        )
    }
}

extension Unicode.GeneralCategory {
    /// Control, format and separator characters: nothing an operator means to type in a reason.
    var isControlLike: Bool {
        switch self {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned: return true
        default: return false
        }
    }
}
