import Foundation
import IdentityMap
import Postgres
import Support

/// The follower's own connection to the reader database (the replica when there is one): the
/// change log, warm-up pages, pools, and re-reads of changed identities, each a short statement.
///
/// Its own connection and executor, like `TokenRevocationFeed`: the follower neither waits
/// behind nor takes from the API's pool, and LISTEN needs a session that stays put.
/// `@unchecked Sendable`: one follower owns a feed and calls it sequentially (a warm-up page may
/// be in flight while the previous one is decoded elsewhere); the connection is only touched by
/// bodies on the feed's own executor, never on the cooperative pool.
final class IdentityChangeFeed: @unchecked Sendable {
    private let conninfo: String
    private let executor = BlockingExecutor(label: "stableid.lookup-cache.feed")
    private var connection: PostgresConnection?
    /// A call that takes longer than this is given up and the connection dropped; the statement
    /// itself is bounded by the session's `statement_timeout`.
    private let callTimeout: Duration = .seconds(6)

    /// Statements are short (a page, a poll, a batch of 1,000 re-reads); a connection that stops
    /// answering is an error within about two seconds.
    static let session = SessionSettings(
        statementTimeoutMilliseconds: 5_000, lockTimeoutMilliseconds: 1_000, keepaliveIdleSeconds: 1, tcpUserTimeoutMilliseconds: 2_000
    )

    init(conninfo: String) {
        self.conninfo = conninfo
    }

    /// Connects and, when asked, LISTENs; answers whether it listens. A hot standby refuses
    /// LISTEN ("cannot execute LISTEN during recovery"): then the follower polls.
    func connect(listen: Bool) async throws -> Bool {
        try await onQueue {
            let connection = try PostgresConnection.connect(
                conninfo: self.conninfo, applicationName: "stableid-lookup-cache", session: Self.session
            )
            self.connection = connection
            guard listen else { return false }
            do {
                try connection.execute(PostgresQuery(unsafeSQL: "LISTEN \(IdentityChangeLog.channel)"))
                return true
            } catch let error as PostgresError where error.kind == .server && connection.isHealthy {
                return false
            }
        }
    }

    /// The server instance this connection reached: its postmaster's start time (and address), so
    /// a follower can tell a reconnect to the same server from a failover or a restart.
    func serverInstance() async throws -> String {
        try await onQueue {
            let row = try Self.horizonRow(
                try self.requireConnection().query(
                    "SELECT pg_postmaster_start_time()::text || ' ' || coalesce(inet_server_addr()::text, 'local') AS instance"
                ))
            return try row.decode("instance", as: String.self)
        }
    }

    /// Returns when a NOTIFY arrives or `timeout` has passed (notifications are only wake-ups:
    /// what changed is read from the log).
    func waitForWakeUp(timeout: Duration) async throws {
        _ = try await onQueue {
            try self.requireConnection().waitForNotifications(timeoutMilliseconds: Int(timeout.milliseconds))
        }
    }

    struct Start: Sendable {
        /// The cursor to follow from after a warm-up that starts now.
        var position: Int64
        /// Reset rows (a TRUNCATE) after `position` that are visible already: the warm-up, which
        /// reads later, reflects them, so meeting them again in the log is no reason to warm up
        /// again.
        var visibleResets: Set<Int64>
        var estimatedIdentities: Int
    }

    /// Where a warm-up starts following: the last id published at least `maxGapAge` before the
    /// newest change this server can see (or the prune horizon) — measured on the primary's
    /// commit clock, not this server's: a standby whose replay is paused or behind must not
    /// count its own wall time as time the primary gave a late commit. Every smaller id was published that long before the warm-up reads its
    /// first page, and an id whose commit takes longer is abandoned anyway (``ChangeCursor``);
    /// every larger id is read again after the warm-up, which is harmless because applying a
    /// change means re-reading the identity's current state — unless the warm-up reads everything
    /// in one snapshot (``beginSnapshot()``), which then says exactly which of them the pages
    /// already show (``visibleChanges(after:)``). Read page by page instead (the fallback), each
    /// page at its own snapshot: a change a page missed committed after that page was read, so it
    /// was published after this position was taken, with a larger id.
    func start(maxGapAge: Duration) async throws -> Start {
        try await onQueue {
            let rows = try self.requireConnection().query(
                """
                WITH start AS (
                    SELECT GREATEST(
                               h.pruned_through,
                               COALESCE((SELECT max(c.id) FROM identity_changes c
                                         WHERE c.changed_at <= (SELECT max(changed_at) FROM identity_changes)
                                                               - make_interval(secs => \(maxGapAge.seconds))), 0)
                           ) AS position
                    FROM identity_change_horizon h
                )
                SELECT s.position,
                       ARRAY(SELECT c.id::text FROM identity_changes c WHERE c.pool_id IS NULL AND c.id > s.position) AS resets,
                       GREATEST((SELECT reltuples FROM pg_class WHERE oid = 'identities'::regclass), 0)::bigint AS estimated
                FROM start s
                """
            )
            let row = try Self.horizonRow(rows)
            let resets = try row.decode("resets", as: [String].self).compactMap { Int64($0) }
            return Start(
                position: try row.decode("position"), visibleResets: Set(resets),
                estimatedIdentities: Int(try row.decode("estimated", as: Int64.self))
            )
        }
    }

    /// Starts (or ends) the one read-only REPEATABLE READ snapshot a warm-up reads everything in:
    /// its start position, its pages and ``visibleChanges(after:)``. What the pages show is then
    /// exactly the changes that snapshot sees, so following can skip them instead of re-reading
    /// every identity a bulk load just wrote (issue #23).
    func beginSnapshot() async throws {
        try await onQueue {
            try self.requireConnection().execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        }
    }

    func endSnapshot() async throws {
        try await onQueue {
            try self.requireConnection().execute("COMMIT")
        }
    }

    /// Inside the warm-up's snapshot: the highest change id it sees after `position`, and the ids
    /// below that it does not see (transactions still in their commit, or that failed there) as
    /// ranges — the gaps a cursor must still read. One pass over the index, returning only the
    /// holes, however many rows a bulk load added.
    func visibleChanges(after position: Int64) async throws -> (high: Int64, missing: [ClosedRange<Int64>]) {
        try await onQueue {
            let connection = try self.requireConnection()
            // One pass over every change since the start: after a bulk load of millions, more than
            // the feed's usual statement timeout allows. The transaction ends right after.
            try connection.execute("SET LOCAL statement_timeout = 120000")
            let high = try Self.horizonRow(
                try connection.query("SELECT COALESCE(max(id), \(position)) AS high FROM identity_changes WHERE id > \(position)")
            ).decode("high", as: Int64.self)
            let holes = try connection.query(
                """
                SELECT lower, upper FROM (
                    SELECT lag(id, 1, \(position)) OVER (ORDER BY id) + 1 AS lower, id - 1 AS upper
                    FROM identity_changes WHERE id > \(position)
                ) h
                WHERE lower <= upper
                ORDER BY lower
                """
            )
            let missing = try holes.map { row in
                (try row.decode("lower", as: Int64.self))...(try row.decode("upper", as: Int64.self))
            }
            return (high: high, missing: missing)
        }
    }

    /// The end of the log and the prune horizon, to check a cursor before resuming with it.
    func logEnd() async throws -> (end: Int64, prunedThrough: Int64) {
        try await onQueue {
            let row = try Self.horizonRow(
                try self.requireConnection().query(
                    """
                    SELECT GREATEST(COALESCE((SELECT max(id) FROM identity_changes), 0), h.pruned_through) AS log_end, h.pruned_through
                    FROM identity_change_horizon h
                    """
                ))
            return (end: try row.decode("log_end", as: Int64.self), prunedThrough: try row.decode("pruned_through", as: Int64.self))
        }
    }

    /// Every pool and its issuer (a pool id not shaped like one is left out: its identities are
    /// not cached either).
    func pools() async throws -> [(pool: PoolID, issuer: String)] {
        try await onQueue {
            var pools: [(pool: PoolID, issuer: String)] = []
            for row in try self.requireConnection().query("SELECT id, issuer FROM pools ORDER BY id") {
                guard let pool = PoolID(try row.decode("id", as: String.self)) else { continue }
                pools.append((pool: pool, issuer: try row.decode("issuer", as: String.self)))
            }
            return pools
        }
    }

    struct Page: Sendable {
        /// Binary format: a million identities' uuids and timestamps are copied, not spelled out
        /// by the server and parsed back here.
        var rows: PostgresBinaryRows
        var lastID: Int64?
    }

    /// Up to `limit` resolvable identities with `identities.id > after`, in id order: a keyset
    /// page, so no statement stays open for the whole warm-up. The warm-up's snapshot does (a few
    /// seconds per million identities): on a hot standby a replay conflict may cancel it, and the
    /// follower then warms up again page by page, each page its own snapshot.
    ///
    /// The page's users are looked up one by one (a LATERAL subquery the planner may not flatten,
    /// `OFFSET 0`): right after a bulk load the statistics still describe the old table, and
    /// with them a plain join hashed every user for every page — 1.6 s a page instead of 20 ms,
    /// past the feed's statement timeout, so a server never finished warming.
    func identityPage(after: Int64, limit: Int) async throws -> Page {
        try await onQueue {
            let rows = try self.requireConnection().queryBinary(
                """
                SELECT \(unescaped: WarmupRows.columns)
                FROM (SELECT * FROM identities WHERE id > \(after) AND status <> 'unlinked' ORDER BY id LIMIT \(limit)) i
                CROSS JOIN LATERAL (SELECT status FROM users WHERE users.id = i.user_id OFFSET 0) u
                ORDER BY i.id
                """
            )
            return Page(rows: rows, lastID: try rows.last.flatMap { try $0.integer(at: 0) })
        }
    }

    struct Change: Sendable {
        var id: Int64
        var pool: String?
        var sub: String?
        var changedAt: Date
    }

    struct Poll: Sendable {
        var prunedThrough: Int64
        var databaseNow: Date
        /// Ascending by id: the open gaps' rows first, then the new ones.
        var changes: [Change]
    }

    /// One statement, so the rows, the prune horizon and the clock come from one snapshot: the
    /// rows of every open gap of `cursor` and the next rows after it, `limit` in all.
    func poll(_ cursor: ChangeCursor, limit: Int) async throws -> Poll {
        let (high, lowers, uppers) = (cursor.high, cursor.gapLowers, cursor.gapUppers)
        // Without open gaps (the usual case: every commit's NOTIFY brings one of these) a plain
        // range read: PostgreSQL plans the gap query afresh each time (its arrays make a custom
        // plan look cheaper), which cost more than running it, once per commit.
        let query: PostgresQuery =
            lowers.isEmpty
            ? """
            SELECT h.pruned_through, clock_timestamp() AS database_now, c.id, c.pool_id, c.sub, c.changed_at
            FROM identity_change_horizon h
            LEFT JOIN (SELECT id, pool_id, sub, changed_at FROM identity_changes
                       WHERE id > \(high) ORDER BY id LIMIT \(limit)) c ON true
            ORDER BY c.id
            """
            : """
            WITH changes AS (
                SELECT c.id, c.pool_id, c.sub, c.changed_at
                FROM unnest(\(PostgresArray(lowers))::bigint[], \(PostgresArray(uppers))::bigint[]) AS g(lower_id, upper_id)
                JOIN identity_changes c ON c.id BETWEEN g.lower_id AND g.upper_id
                UNION ALL
                (SELECT c.id, c.pool_id, c.sub, c.changed_at FROM identity_changes c
                 WHERE c.id > \(high) ORDER BY c.id LIMIT \(limit))
            )
            SELECT h.pruned_through, clock_timestamp() AS database_now, c.id, c.pool_id, c.sub, c.changed_at
            FROM identity_change_horizon h
            LEFT JOIN (SELECT * FROM changes ORDER BY id LIMIT \(limit)) c ON true
            ORDER BY c.id
            """
        return try await onQueue {
            let rows = try self.requireConnection().query(query)
            let first = try Self.horizonRow(rows)
            var changes: [Change] = []
            changes.reserveCapacity(rows.count)
            for row in rows {
                guard let id = try row.decodeIfPresent("id", as: Int64.self) else { continue }
                changes.append(
                    Change(
                        id: id, pool: try row.decodeIfPresent("pool_id"), sub: try row.decodeIfPresent("sub"),
                        changedAt: try row.decode("changed_at")
                    ))
            }
            return Poll(prunedThrough: try first.decode("pruned_through"), databaseNow: try first.decode("database_now"), changes: changes)
        }
    }

    /// The current answer for each `.pool` reference, through ``ResolveQueries`` (the one
    /// decoder of identity rows), in batches of its maximum. An item whose row cannot be decoded
    /// answers nil, so the map forgets it and its lookups fail in PostgreSQL as they would
    /// without a cache — instead of one bad row stopping the feed.
    func currentAnswers(for references: [IdentityReference]) async throws -> [Resolution?] {
        guard !references.isEmpty else { return [] }
        return try await onQueue {
            let connection = try self.requireConnection()
            var answers: [Resolution?] = []
            answers.reserveCapacity(references.count)
            var start = 0
            while start < references.count {
                let batch = Array(references[start..<min(start + ResolveQueries.maxBatch, references.count)])
                do {
                    answers.append(contentsOf: try ResolveQueries.resolve(batch: batch, on: connection))
                } catch let error as PostgresError
                    where (error.kind == .decoding || error.sqlState?.hasPrefix("22") == true) && connection.isHealthy
                {
                    for reference in batch {
                        answers.append(try? ResolveQueries.resolve(reference, on: connection))
                    }
                }
                start += batch.count
            }
            return answers
        }
    }

    /// Queued rather than awaited: closing must happen even when the caller is cancelled, and only
    /// after a body that is still waiting on the connection.
    func close() {
        executor.enqueue { self.connection = nil }
    }

    /// `identity_change_horizon` holds exactly one row (sql/0007); without it nothing can be trusted.
    private static func horizonRow(_ rows: PostgresRows) throws -> PostgresRow {
        guard let row = rows.first else {
            throw PostgresError(kind: .decoding, message: "identity_change_horizon has no row")
        }
        return row
    }

    private func requireConnection() throws -> PostgresConnection {
        guard let connection else {
            throw PostgresError(kind: .connection, message: "lookup cache feed is not connected")
        }
        return connection
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await executor.run(timeout: callTimeout, body)
    }
}
