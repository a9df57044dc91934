public import Foundation
public import IdentityMap
import Postgres
import Support

/// Reads the change feed: pages after a cursor, and where the feed ends. Every read goes to the
/// primary — the feed's order is the order commits became visible there, and a NOTIFY (which
/// wakes waiters) comes from there; a replica could lag behind the NOTIFY that woke its reader.
/// After a failover the promoted standby is the primary, holding the same positions.
///
/// The API's `GET /v1/changes` and webhook deliveries (each endpoint from its own durable cursor,
/// Webhooks' `WebhookWorker`) read through ``page(after:limit:)``; ``ChangeNotifier`` says when to read again.
public struct ChangeFeedStore: Sendable {
    public let database: Database
    public let gapRule: GapRule

    /// The largest page.
    public static let maxPage = 1_000
    /// Rows examined per statement while finding the end of the feed.
    static let endBatch = 10_000

    public init(database: Database, gapRule: GapRule = GapRule()) {
        self.database = database
        self.gapRule = gapRule
    }

    public struct Page: Sendable {
        /// In feed order (commit order).
        public var changes: [FeedChange]
        /// The cursor after this page: the last change's, or further when rows that make no
        /// change were passed over, or the cursor asked with when nothing was ready.
        public var next: FeedCursor
        /// The page stopped at its limit: more is ready now.
        public var hasMore: Bool
        /// A position still committing stopped the page (``GapRule``): read again on the next
        /// NOTIFY, or at this time at the latest, when the hole is given up (this process's clock).
        public var retryAt: ContinuousClock.Instant?
        /// The database's clock at the read, for the publish-lag metric.
        public var databaseNow: Date?
        /// The newest position in the feed at the read (committed, whether or not handed out yet):
        /// how far a reader is behind is `end` minus its cursor.
        public var end: Int64
    }

    /// Up to `limit` (1…``maxPage``) changes after `cursor`, in commit order. Throws
    /// ``ChangeFeedError`` when the cursor cannot be followed: pruned past, ahead of the feed, or
    /// naming a change this database does not hold (lost in a failover).
    public func page(after cursor: FeedCursor, limit: Int) async throws -> Page {
        let size = min(max(1, limit), Self.maxPage)
        let read = try await database.primary.withConnection { connection in
            try Self.read(after: cursor.position, limit: size, on: connection)
        }
        if cursor.position < read.prunedThrough { throw ChangeFeedError.cursorPruned(prunedThrough: read.prunedThrough) }
        if cursor.position > read.logEnd { throw ChangeFeedError.cursorAhead(logEnd: read.logEnd) }
        // A checked cursor always named a row (checks come only from rows), and rows go only by
        // pruning, which moves the horizon in the same statement: above the horizon, no row — or
        // another row — at its position means the change it names was lost in a failover (the
        // promoted server skipped or reused its position). At the horizon it was pruned exactly.
        if let check = cursor.check, cursor.position > read.prunedThrough, read.checkAtCursor != check {
            throw ChangeFeedError.cursorDiverged(position: cursor.position)
        }
        let outcome = gapRule.settle(
            after: cursor.position, rows: read.rows.map { GapRule.Row(position: $0.position, publishedAt: $0.publishedAt) },
            clock: read.clock)
        let changes = read.rows.prefix(outcome.accepted).compactMap(ChangeDerivation.change(from:))
        var retryAt: ContinuousClock.Instant?
        if let blockedUntil = outcome.blockedUntil {
            let remaining = read.clock.map { blockedUntil.timeIntervalSince($0) } ?? gapRule.maxGapAge.seconds
            retryAt = ContinuousClock.now + .milliseconds(Int64(max(0, remaining) * 1000) + 1)
        }
        let next: FeedCursor
        if outcome.position == cursor.position {
            next = FeedCursor(position: cursor.position, check: cursor.check ?? read.checkAtCursor)
        } else {
            next = FeedCursor(position: outcome.position, check: read.rows.last(where: { $0.position == outcome.position })?.check)
        }
        return Page(
            changes: changes, next: next,
            hasMore: outcome.blockedUntil == nil && read.rows.count == size, retryAt: retryAt, databaseNow: read.clock,
            end: read.logEnd
        )
    }

    /// Where the feed ends now: the cursor a new consumer starts from (`GET /v1/changes` without
    /// `after`), so it does not replay history. Every position up to it is visible or given up
    /// (``GapRule``), so a change still committing now comes after it.
    public func end() async throws -> FeedCursor {
        let gapRule = self.gapRule
        return try await database.primary.withConnection { connection in
            var position = try Self.settledStart(maxGapAge: gapRule.maxGapAge, on: connection)
            while true {
                let (rows, clock) = try Self.positions(after: position, limit: Self.endBatch, on: connection)
                let outcome = gapRule.settle(after: position, rows: rows, clock: clock)
                position = outcome.position
                if outcome.blockedUntil != nil || rows.count < Self.endBatch { break }
            }
            return FeedCursor(position: position, check: try Self.check(at: position, on: connection))
        }
    }

    /// The cursor at `position`, with its row's check (none when no row is there).
    public func cursor(at position: Int64) async throws -> FeedCursor {
        try await database.primary.withConnection { connection in
            FeedCursor(position: position, check: try Self.check(at: position, on: connection))
        }
    }

    // MARK: Statements

    /// The database's clock for the gap rule: the primary's own; on a hot standby the commit time
    /// of the last transaction it replayed (or of the newest change, if later), so a standby whose
    /// replay stalls does not count its own wall time as time a late commit had.
    static let clockSQL = """
        CASE WHEN pg_is_in_recovery()
             THEN GREATEST(pg_last_xact_replay_timestamp(), (SELECT published_at FROM change_feed ORDER BY id DESC LIMIT 1))
             ELSE clock_timestamp() END
        """

    /// A row's publication time as the check reads it: whole microseconds since 1970 (exact:
    /// `extract` answers numeric).
    public static let publishedMicrosSQL = "floor(extract(epoch FROM published_at) * 1000000)::bigint"

    /// The check of the row at `position`, nil when there is none.
    static func check(at position: Int64, on connection: PostgresConnection) throws -> UInt32? {
        let rows = try connection.query(
            "SELECT event_id, \(unescaped: publishedMicrosSQL) AS published_us FROM change_feed WHERE id = \(position)")
        guard let row = rows.first else { return nil }
        return FeedCursor.check(eventID: try row.decode("event_id"), publishedMicros: try row.decode("published_us"))
    }

    struct Read: Sendable {
        var prunedThrough: Int64
        var logEnd: Int64
        /// The check of the row at the cursor's position, nil when there is none.
        var checkAtCursor: UInt32?
        var clock: Date?
        var rows: [ChangeDerivation.Row]
    }

    /// One statement, so the horizon, the end, the clock and the rows come from one snapshot.
    /// Never reads `event_personal_data`. Binary results, read by column position: decoding a
    /// thousand rows' texts (timestamps, UUIDs, column names looked up per value) was most of a
    /// catch-up page's time.
    static func read(after position: Int64, limit: Int, on connection: PostgresConnection) throws -> Read {
        let rows = try connection.queryBinary(
            """
            WITH feed AS (
                SELECT id, event_id, published_at FROM change_feed WHERE id > \(position) ORDER BY id LIMIT \(limit)
            )
            -- One row even when no change follows (`one`), the cursor's own row and the horizon
            -- as scalar subqueries: the plan stays the same however stale the statistics (a
            -- feed filled since its last ANALYZE planned joins for millions of rows, 0.5 s a page).
            SELECT h.pruned_through,
                   GREATEST(h.pruned_through, COALESCE((SELECT max(id) FROM change_feed), 0)) AS log_end,
                   \(unescaped: clockSQL) AS clock,
                   (SELECT event_id FROM change_feed WHERE id = \(position)) AS at_event_id,
                   (SELECT \(unescaped: publishedMicrosSQL) FROM change_feed WHERE id = \(position)) AS at_published_us,
                   f.id, f.published_at, e.id AS event_id, e.kind, e.occurred_at, e.user_id, e.pool_id, e.sub,
                   -- Only the keys a change is derived from (most events have none of them):
                   -- decoding whole details was most of a page's time (perf, bench-changes).
                   -- (Details that are not an object — never written by StableID — become {}: the
                   -- event is then skipped, as ChangeDerivation skips what lacks its keys, instead
                   -- of failing every read at its position.)
                   CASE WHEN jsonb_typeof(e.details) = 'object'
                        THEN (SELECT COALESCE(jsonb_object_agg(d.key, d.value), '{}'::jsonb) FROM jsonb_each(e.details) d
                              WHERE d.key = ANY(\(PostgresArray(ChangeDerivation.detailKeys))::text[]))
                        ELSE '{}'::jsonb END::text AS details
            FROM (SELECT 1) one
            CROSS JOIN LATERAL (SELECT pruned_through FROM change_feed_horizon LIMIT 1) h
            -- Each change's event by its key, a page's thousand index lookups whatever the
            -- statistics say (LIMIT keeps the planner from turning it into a join over `events`).
            LEFT JOIN (feed f CROSS JOIN LATERAL (
                SELECT id, kind, occurred_at, user_id, pool_id, sub, details FROM events WHERE id = f.event_id LIMIT 1
            ) e) ON true
            ORDER BY f.id
            """
        )
        guard let head = rows.first else {
            throw PostgresError(kind: .decoding, message: "change_feed_horizon has no row")
        }
        let column = try Columns(rows)
        let decoder = JSONDecoder()
        var decoded: [ChangeDerivation.Row] = []
        decoded.reserveCapacity(rows.count)
        let empty = JSONValue.object([:])
        for row in rows {
            guard let id = try row.integer(at: column.id) else { continue }
            let text = row.string(at: column.details) ?? "{}"
            let details = text == "{}" ? empty : try decoder.decode(JSONValue.self, from: Data(text.utf8))
            guard let eventID = try row.integer(at: column.eventID), let published = try row.microsecondsSince2000(at: column.publishedAt),
                let publishedAt = try row.date(at: column.publishedAt), let occurredAt = try row.date(at: column.occurredAt),
                let kind = row.string(at: column.kind)
            else { throw PostgresError(kind: .decoding, message: "a change feed row lacks its event") }
            var decodedRow = ChangeDerivation.Row(
                position: id, publishedAt: publishedAt, eventID: eventID, kind: kind, occurredAt: occurredAt,
                userID: try row.uuid(at: column.userID), pool: row.string(at: column.pool), sub: row.string(at: column.sub),
                details: details
            )
            decodedRow.check = FeedCursor.check(
                eventID: eventID, publishedMicros: published + PostgresBinaryRow.unixEpochOffsetMicros)
            decoded.append(decodedRow)
        }
        var checkAtCursor: UInt32?
        if let eventID = try head.integer(at: column.atEventID), let micros = try head.integer(at: column.atPublishedMicros) {
            checkAtCursor = FeedCursor.check(eventID: eventID, publishedMicros: micros)
        }
        guard let prunedThrough = try head.integer(at: column.prunedThrough), let logEnd = try head.integer(at: column.logEnd) else {
            throw PostgresError(kind: .decoding, message: "change_feed_horizon has no row")
        }
        return Read(
            prunedThrough: prunedThrough, logEnd: logEnd, checkAtCursor: checkAtCursor, clock: try head.date(at: column.clock),
            rows: decoded
        )
    }

    /// The page query's columns by position, found once per page.
    private struct Columns {
        let prunedThrough, logEnd, clock, atEventID, atPublishedMicros: Int
        let id, publishedAt, eventID, kind, occurredAt, userID, pool, sub, details: Int

        init(_ rows: PostgresBinaryRows) throws {
            func index(_ name: String) throws -> Int {
                guard let index = rows.columnIndex(name) else {
                    throw PostgresError(kind: .decoding, message: "the change feed page has no column \(name)")
                }
                return index
            }
            (prunedThrough, logEnd, clock) = (try index("pruned_through"), try index("log_end"), try index("clock"))
            (atEventID, atPublishedMicros) = (try index("at_event_id"), try index("at_published_us"))
            (id, publishedAt, eventID, kind) = (try index("id"), try index("published_at"), try index("event_id"), try index("kind"))
            (occurredAt, userID, pool, sub) = (try index("occurred_at"), try index("user_id"), try index("pool_id"), try index("sub"))
            details = try index("details")
        }
    }

    /// A position every earlier one is settled at: the newest change published at least
    /// `maxGapAge` before the clock (every hole below it is given up), or the horizon.
    static func settledStart(maxGapAge: Duration, on connection: PostgresConnection) throws -> Int64 {
        let rows = try connection.query(
            """
            WITH c AS (SELECT \(unescaped: clockSQL) AS now)
            SELECT GREATEST(h.pruned_through,
                            COALESCE((SELECT f.id FROM change_feed f, c
                                      WHERE f.published_at <= c.now - make_interval(secs => \(maxGapAge.seconds))
                                      ORDER BY f.published_at DESC LIMIT 1), 0)) AS position
            FROM change_feed_horizon h
            """
        )
        guard let row = rows.first else {
            throw PostgresError(kind: .decoding, message: "change_feed_horizon has no row")
        }
        return try row.decode("position")
    }

    /// The positions after `position` (no events joined) and the clock, for finding the end.
    static func positions(after position: Int64, limit: Int, on connection: PostgresConnection) throws -> ([GapRule.Row], Date?) {
        let rows = try connection.query(
            """
            SELECT c.now AS clock, f.id, f.published_at
            FROM (SELECT \(unescaped: clockSQL) AS now) c
            LEFT JOIN (SELECT id, published_at FROM change_feed WHERE id > \(position) ORDER BY id LIMIT \(limit)) f ON true
            ORDER BY f.id
            """
        )
        var positions: [GapRule.Row] = []
        positions.reserveCapacity(rows.count)
        for row in rows {
            guard let id = try row.decodeIfPresent("id", as: Int64.self) else { continue }
            positions.append(GapRule.Row(position: id, publishedAt: try row.decode("published_at")))
        }
        return (positions, try rows.first?.decodeIfPresent("clock", as: Date.self))
    }
}
