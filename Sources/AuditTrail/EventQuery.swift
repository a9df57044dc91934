public import Foundation
public import IdentityMap
import Postgres
import Support

/// Auditors' questions: every event for a person (including users merged into them), a pool, a
/// sub, a kind, an actor or a period, oldest first, in keyset pages.
public struct EventFilter: Sendable, Equatable {
    public var userID: UUID?
    public var pool: String?
    public var sub: String?
    public var kind: String?
    public var actor: String?
    public var since: Date?
    public var until: Date?

    public init(
        userID: UUID? = nil, pool: String? = nil, sub: String? = nil, kind: String? = nil, actor: String? = nil, since: Date? = nil,
        until: Date? = nil
    ) {
        self.userID = userID
        self.pool = pool
        self.sub = sub
        self.kind = kind
        self.actor = actor
        self.since = since
        self.until = until
    }
}

public struct EventQuery: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public static let maxPage = 1000

    /// Events with id > `after` matching `filter`, at most `limit`, oldest first; `upTo` bounds
    /// an export to the events that existed when it started. `withChain` adds each sealed
    /// event's chain position, hash and the exact texts it was hashed from.
    public func page(
        _ filter: EventFilter, after: Int64 = 0, limit: Int = 100, upTo: Int64? = nil, withChain: Bool = false
    ) async throws -> [AuditEvent] {
        let limit = min(max(limit, 1), Self.maxPage)
        return try await database.reader.withConnection { connection in
            // A user's history is the person's: the survivor and every user merged into it,
            // whichever of their IDs was asked.
            let users: [String]? = try filter.userID.map { id in
                try Person.find(id, on: connection).map { $0.userIDs.map { $0.uuidString.lowercased() } } ?? []
            }
            return try connection.query(
                """
                \(unescaped: withChain ? EventLog.selectColumnsWithChain : EventLog.selectColumns)
                WHERE e.id > \(after)
                  AND (\(upTo)::bigint IS NULL OR e.id <= \(upTo)::bigint)
                  AND (\(users.map { PostgresArray($0) })::uuid[] IS NULL OR e.user_id = ANY(\(users.map { PostgresArray($0) })::uuid[]))
                  AND (\(filter.pool)::text IS NULL OR e.pool_id = \(filter.pool)::text)
                  AND (\(filter.sub)::text IS NULL OR e.sub = \(filter.sub)::text)
                  AND (\(filter.kind)::text IS NULL OR e.kind = \(filter.kind)::text)
                  AND (\(filter.actor)::text IS NULL OR e.actor = \(filter.actor)::text)
                  AND (\(filter.since)::timestamptz IS NULL OR e.occurred_at >= \(filter.since)::timestamptz)
                  AND (\(filter.until)::timestamptz IS NULL OR e.occurred_at < \(filter.until)::timestamptz)
                ORDER BY e.id
                LIMIT \(limit)
                """
            ).map(EventLog.decode)
        }
    }

    /// A person's history (the ID may be merged; its survivor's history is meant), or nil when
    /// there is no such user. Both history routes answer from here.
    public func history(of userID: UUID, after: Int64 = 0, limit: Int = 100) async throws -> [AuditEvent]? {
        let exists = try await database.reader.withConnection { connection in try Person.find(userID, on: connection) != nil }
        guard exists else { return nil }
        return try await page(EventFilter(userID: userID), after: after, limit: limit)
    }

    /// The newest event id now: exports stop there, so they are a consistent prefix.
    public func newestID() async throws -> Int64 {
        try await database.reader.query("SELECT coalesce(max(id), 0) AS id FROM events")[0].decode("id")
    }

    /// Every matching event, a page at a time, for exports in constant memory.
    public func all(_ filter: EventFilter, pageSize: Int = 1000, withChain: Bool = false) -> AsyncThrowingStream<[AuditEvent], any Error> {
        let query = self
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let upTo = try await query.newestID()
                    var after: Int64 = 0
                    while !Task.isCancelled {
                        let page = try await query.page(filter, after: after, limit: pageSize, upTo: upTo, withChain: withChain)
                        if page.isEmpty { break }
                        continuation.yield(page)
                        after = page.last!.id
                        if page.count < pageSize { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

/// NDJSON and CSV lines for exports.
public enum EventExportFormat: String, Sendable, CaseIterable {
    case ndjson, csv

    public var contentType: String { self == .ndjson ? "application/x-ndjson" : "text/csv; charset=utf-8" }

    public static let csvHeader = "id,occurred_at,actor,kind,user_id,pool,sub,request_id,details,personal\n"
    /// With chain positions a CSV names each event's position and hash; the texts an offline
    /// check needs are in the NDJSON form only.
    public static let csvHeaderWithChain = "id,occurred_at,actor,kind,user_id,pool,sub,request_id,details,personal,seq,hash\n"

    public func header(withChain: Bool) -> String? {
        self == .csv ? (withChain ? Self.csvHeaderWithChain : Self.csvHeader) : nil
    }

    /// `withChain` adds the event's chain position (NDJSON: a `chain` object, see
    /// `ExportedEvent.Chain`; CSV: `seq` and `hash` columns, empty while unsealed).
    public func line(_ event: AuditEvent, withChain: Bool = false) -> String {
        switch self {
        case .ndjson:
            return ExportedEvent(event, withChain: withChain).line
        case .csv where withChain:
            let base = EventExportFormat.csv.line(event)
            return String(base.dropLast()) + "," + (event.chain.map { "\($0.seq),\(Hex.encode($0.hash))" } ?? ",") + "\n"
        case .csv:
            func quote(_ value: String) -> String {
                value.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
            }
            return [
                String(event.id), RFC3339.format(event.occurredAt), event.actor, event.kind,
                event.userID.map { $0.uuidString.lowercased() } ?? "",
                event.poolID ?? "", event.sub ?? "", event.requestID ?? "", event.details.canonicalText,
                event.personal?.canonicalText ?? "",
            ].map(quote).joined(separator: ",") + "\n"
        }
    }
}
