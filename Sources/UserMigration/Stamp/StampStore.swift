public import Foundation
public import IdentityMap
import Postgres

/// The SQL of `stableid stamp`: the map's answer for a page of Cognito users (on the reader), and
/// the `stamp_runs` row that makes a run resumable, with the run's events (on the primary). The map
/// itself is only read here.
public struct StampStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// A run as an invocation starts it: new, or resumed with what its earlier invocations did.
    public struct RunStart: Sendable, Equatable {
        public var run: UUID
        public var resumed: Bool
        /// The ListUsers token to start at; nil: the first page (or none left, when `listed`).
        public var nextToken: String?
        /// Every page was handled before the interruption: only the end is left to record.
        public var listed: Bool
        public var pages: Int
        public var counts: StampCounts
        /// An unfinished run of the pool this one replaced (started without `--resume`).
        public var abandoned: UUID?
    }

    static let countColumns = "seen, changed, cleared, skipped, unmapped, inactive, gone, failed"

    static func counts(_ row: PostgresRow) throws -> StampCounts {
        StampCounts(
            seen: try row.decode("seen"), changed: try row.decode("changed"), cleared: try row.decode("cleared"),
            skipped: try row.decode("skipped"), unmapped: try row.decode("unmapped"), inactive: try row.decode("inactive"),
            gone: try row.decode("gone"), failed: try row.decode("failed"))
    }

    /// Starts a run of `pool` (the caller holds the pool's stamp lock). With `resume`, reopens the
    /// pool's unfinished run of `attribute`; otherwise abandons any unfinished run of the pool and
    /// starts a new one. One transaction.
    public func begin(pool: PoolID, attribute: String, resume: Bool) async throws -> RunStart {
        try await database.primary.transaction { connection in
            let open = try connection.query(
                """
                SELECT id, attribute, next_token, listed, pages, \(unescaped: Self.countColumns) FROM stamp_runs
                WHERE pool_id = \(pool.rawValue) AND state IN ('running', 'stopped', 'failed') FOR UPDATE
                """
            ).first
            let openID: UUID? = try open?.decode("id")
            if resume {
                guard let open, let id = openID, try open.decode("attribute", as: String.self) == attribute else {
                    throw StampError.nothingToResume(
                        pool: pool.rawValue, attribute: attribute, other: try open?.decode("attribute", as: String.self))
                }
                try connection.execute("UPDATE stamp_runs SET state = 'running', last_error = NULL, updated_at = now() WHERE id = \(id)")
                return RunStart(
                    run: id, resumed: true, nextToken: try open.decodeIfPresent("next_token"), listed: try open.decode("listed"),
                    pages: try open.decode("pages"), counts: try Self.counts(open), abandoned: nil)
            }
            if let openID {
                try connection.execute(
                    """
                    UPDATE stamp_runs SET state = 'abandoned', next_token = NULL, finished_at = now(), updated_at = now()
                    WHERE id = \(openID)
                    """
                )
            }
            let run = UUIDv7.make()
            try connection.execute(
                "INSERT INTO stamp_runs (id, pool_id, attribute, state) VALUES (\(run), \(pool.rawValue), \(attribute), 'running')")
            return RunStart(run: run, resumed: false, nextToken: nil, listed: false, pages: 0, counts: StampCounts(), abandoned: openID)
        }
    }

    /// What the map and the run's own events say of one ListUsers page.
    public struct PageFacts: Sendable, Equatable {
        /// Sub → its identity in the pool and that identity's person; subs the map does not hold are absent.
        public var mapped: [String: StampMapFact] = [:]
        /// The subs whose attribute this run removed and recorded (`stable_id_attribute_cleared`),
        /// mapped or not.
        public var clearedByRun: Set<String> = []
    }

    /// The map's answer for the subs of one ListUsers page (canonical subs), one statement on the
    /// reader: each identity of `pool` with its person — the survivor of its user, never a merged
    /// ID (``Person/survivor(of:)``) — and, for `run`, whether that run already recorded writing
    /// it, or removing its attribute (which it may have done to a sub the map does not hold).
    ///
    /// A reader that lags the primary may miss a merge committed a moment before: that user is
    /// stamped with the merged ID, which still resolves to the survivor everywhere, and the next
    /// run rewrites it (as it does for merges made after a run). It may equally miss an unlink
    /// committed a moment before: that user keeps its value until the next run removes it.
    public func facts(pool: PoolID, subs: [String], run: UUID?) async throws -> PageFacts {
        guard !subs.isEmpty else { return PageFacts() }
        let rows = try await database.reader.withConnection { connection in
            try connection.query(
                """
                SELECT p.sub, i.status AS identity_status, s.id AS person, s.status AS person_status,
                       \(run)::uuid IS NOT NULL AND i.sub IS NOT NULL AND EXISTS (
                           SELECT 1 FROM events e
                           WHERE e.pool_id = \(pool.rawValue) AND e.sub = p.sub AND e.kind = 'user_stamped'
                             AND e.details->>'run' = \(run)::text) AS stamped_by_run,
                       \(run)::uuid IS NOT NULL AND EXISTS (
                           SELECT 1 FROM events e
                           WHERE e.pool_id = \(pool.rawValue) AND e.sub = p.sub AND e.kind = 'stable_id_attribute_cleared'
                             AND e.details->>'run' = \(run)::text) AS cleared_by_run
                FROM unnest(\(PostgresArray(subs))::text[]) AS p (sub)
                LEFT JOIN identities i ON i.pool_id = \(pool.rawValue) AND i.sub = p.sub
                LEFT JOIN users u ON u.id = i.user_id
                LEFT JOIN users s ON s.id = \(fragment: Person.survivor(of: "u"))
                """
            )
        }
        var facts = PageFacts()
        for row in rows {
            let sub: String = try row.decode("sub")
            if try row.decode("cleared_by_run", as: Bool.self) { facts.clearedByRun.insert(sub) }
            guard let identityText: String = try row.decodeIfPresent("identity_status") else { continue }
            guard let identityStatus = IdentityStatus(rawValue: identityText),
                let personStatus = UserStatus(rawValue: try row.decode("person_status"))
            else { throw PostgresError(kind: .decoding, message: "unknown identity or user status") }
            facts.mapped[sub] = StampMapFact(
                person: try row.decode("person"), personStatus: personStatus, identityStatus: identityStatus,
                stampedByRun: try row.decode("stamped_by_run"))
        }
        return facts
    }

    /// One user written in Cognito: its `user_stamped` event and the run's `seen` and `changed`,
    /// in one transaction, so the run's `changed` is always the number of its events.
    public func recordStamped(
        person: UUID, sub: String, previous: String?, run: UUID, pool: PoolID, attribute: String, attribution: Attribution
    ) async throws {
        let details = UserStampedDetails(run: run, attribute: attribute, previous: previous)
        try await database.primary.transaction { connection in
            try EventLog.append(EventDraft(details, userID: person, pool: pool, sub: sub), attribution: attribution, on: connection)
            try connection.execute(
                "UPDATE stamp_runs SET seen = seen + 1, changed = changed + 1, updated_at = now() WHERE id = \(run)")
        }
    }

    /// One user's attribute removed in Cognito: its `stable_id_attribute_cleared` event and the
    /// run's `seen` and `cleared`, in one transaction, so the run's `cleared` is always the number
    /// of its events. `person` is the identity's person when the map holds the sub.
    public func recordCleared(
        person: UUID?, sub: String, reason: StampClearReason, previous: String?, run: UUID, pool: PoolID, attribute: String,
        attribution: Attribution
    ) async throws {
        let details = StableIDAttributeClearedDetails(run: run, attribute: attribute, reason: reason, previous: previous)
        try await database.primary.transaction { connection in
            try EventLog.append(EventDraft(details, userID: person, pool: pool, sub: sub), attribution: attribution, on: connection)
            try connection.execute(
                "UPDATE stamp_runs SET seen = seen + 1, cleared = cleared + 1, updated_at = now() WHERE id = \(run)")
        }
    }

    /// A page all of whose users were handled: its counts (its written and cleared users were
    /// counted one by one) and the token of the page after it — nil for the last, which marks the
    /// run `listed`.
    public func commitPage(run: UUID, nextToken: String?, counts: StampCounts) async throws {
        try await database.primary.query(
            """
            UPDATE stamp_runs SET next_token = \(nextToken), listed = \(nextToken == nil), pages = pages + 1,
                   seen = seen + \(counts.seen), skipped = skipped + \(counts.skipped), unmapped = unmapped + \(counts.unmapped),
                   inactive = inactive + \(counts.inactive), gone = gone + \(counts.gone), failed = failed + \(counts.failed),
                   updated_at = now()
            WHERE id = \(run)
            """
        )
    }

    /// Cognito refused the saved token: the run reads the pool again from the first page. The users
    /// it changed or cleared stay counted (each has its event, and is found `alreadyCounted`); the
    /// page counts start again.
    public func restartListing(run: UUID) async throws {
        try await database.primary.query(
            """
            UPDATE stamp_runs SET next_token = NULL, listed = false, pages = 0, seen = changed + cleared, skipped = 0, unmapped = 0,
                   inactive = 0, gone = 0, failed = 0, updated_at = now()
            WHERE id = \(run)
            """
        )
    }

    /// A run's durable totals.
    public struct Totals: Sendable, Equatable {
        public var pages: Int
        public var counts: StampCounts
    }

    /// Ends an invocation of the run: its state (`completed`, `stopped`, `failed` with `code`) and
    /// its `stamp_run_finished` event with the durable counts, in one transaction. Returns them.
    @discardableResult
    public func finish(
        run: UUID, pool: PoolID, state: StampRunState, code: String? = nil, resumed: Bool, attribution: Attribution
    ) async throws -> Totals {
        let completed = state == .completed
        return try await database.primary.transaction { connection in
            let row = try connection.query(
                """
                UPDATE stamp_runs SET state = \(state.rawValue), last_error = \(code), updated_at = now(),
                       finished_at = CASE WHEN \(completed)::boolean THEN now() END,
                       next_token = CASE WHEN \(completed)::boolean THEN NULL ELSE next_token END
                WHERE id = \(run)
                RETURNING attribute, pages, \(unescaped: Self.countColumns)
                """
            )[0]
            let pages: Int = try row.decode("pages")
            let counts = try Self.counts(row)
            let details = StampRunFinishedDetails(
                run: run, attribute: try row.decode("attribute"), state: state, resumed: resumed, pages: pages, counts: counts)
            try EventLog.append(EventDraft(details, pool: pool), attribution: attribution, on: connection)
            return Totals(pages: pages, counts: counts)
        }
    }
}
