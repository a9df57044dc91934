import Cognito
import CognitoIngest
public import Foundation
public import IdentityMap
public import Logging
import Postgres
import Synchronization
import UserMigration

/// Resumable live snapshots. Reading a large pool at the ListUsers quota takes minutes (about nine
/// per million users); a read that fails midway — the network, credentials that expired, a killed
/// process — need not start again from the first page.
///
/// A live run stages each page and records the token of the page that follows in one transaction
/// (`reconcile_progress`, one row per pool), so the rows and the token always agree. A run
/// abandoned while reading, or found dead by the next run of its scope, keeps its snapshot and
/// progress for ``Housekeeping/resumableSnapshotLifetime`` after its start, and
/// ``resume(database:runID:scope:locking:attribution:logger:)`` continues it: complete pools are
/// not read again, partly read ones continue from their token, the others are read from the start.
extension ReconciliationRun {
    /// What earlier attempts of a resumed run read of one pool.
    struct SavedPool: Sendable, Equatable {
        /// When the pool's snapshot started: the resumed run judges the map against that moment.
        var started: Date
        /// The ListUsers token of the next page; nil when `complete`.
        var token: String?
        /// Users read so far.
        var staged: Int
        var complete: Bool
        /// Of those, users left out of the snapshot for a sub that is no UUID.
        var leftOut: Int
    }

    /// A run's state as its earlier attempts left it, read under the run lock.
    struct Restored: Sendable {
        var startedAt: Date
        var nextSequence: Int
        var saved: [PoolID: SavedPool]
        /// Pools whose staged rows are gone although their progress says otherwise: read again.
        var lost: [PoolID]
    }

    /// How a failed run's error and the CLI tell the operator to resume it.
    public static func resumeHint(for runID: UUID) -> String {
        let hours = Housekeeping.resumableSnapshotLifetime.components.seconds / 3600
        return "what it read is kept for \(hours) h after its start; continue with: stableid reconcile --resume "
            + runID.uuidString.lowercased()
    }

    // MARK: Resuming

    /// Takes the run lock of `scope` and reopens `runID` — a live run of that scope that failed
    /// while reading (or whose process died), started less than
    /// ``Housekeeping/resumableSnapshotLifetime`` ago, that no later run of the scope has
    /// completed since — with what it had staged. Then stage the scope's pools and finish as after
    /// ``start(database:scope:source:locking:attribution:logger:)``; `stage` skips what is done.
    ///
    /// Throws ``ReconciliationError/runNotFound(_:)``, or ``ReconciliationError/notResumable(_:_:)``
    /// saying why (a completed or file run, another scope, too old, nothing kept), before any
    /// Cognito call; ``ReconciliationError/busy(_:)`` as `start` does.
    public static func resume(
        database: Database, runID: UUID, scope: ReconcileScope, locking: ReconcileLockPolicy = .failFast,
        attribution: Attribution, logger: Logger
    ) async throws -> ReconciliationRun {
        let lock = try await lockScope(scope, database: database, locking: locking)
        do {
            let restored = try await database.primary.transaction { connection in
                try ReconciliationRun.retireDeadRuns(of: scope, on: connection)
                return try ReconciliationRun.restore(runID, scope: scope, on: connection)
            }
            let run = "\(runID.uuidString.lowercased())"
            for pool in restored.lost {
                logger.warning(
                    "the staged users of a pool are gone (PostgreSQL restarted after a crash?); reading the pool again",
                    metadata: ["run": "\(run)", "pool": "\(pool)"]
                )
            }
            logger.info(
                "reconciliation resumed",
                metadata: [
                    "run": "\(run)", "scope": "\(scope.key)",
                    "complete": "\(restored.saved.filter { $0.value.complete }.keys.map(\.rawValue).sorted())",
                    "partial": "\(restored.saved.filter { !$0.value.complete }.keys.map(\.rawValue).sorted())",
                ]
            )
            var state = State()
            state.nextSequence = restored.nextSequence
            state.saved = restored.saved
            return ReconciliationRun(
                id: runID, scope: scope, source: .live, startedAt: restored.startedAt, database: database, attribution: attribution,
                locking: locking, logger: logger, lock: lock, state: state
            )
        } catch {
            lock.release()
            throw error
        }
    }

    /// The scope a run reconciled, as far as it recorded it: its campaign as the campaign is now, or
    /// its pools and stable-ID attribute. ``resume(database:runID:scope:locking:attribution:logger:)``
    /// checks that it still matches the run (a campaign whose pools changed does not).
    public static func recordedScope(database: Database, runID: UUID) async throws -> ReconcileScope {
        guard
            let row = try await database.primary.query(
                "SELECT campaign_id, pools, stable_id_attribute FROM reconcile_runs WHERE id = \(runID)"
            ).first
        else { throw ReconciliationError.runNotFound(runID) }
        if let campaignID: UUID = try row.decodeIfPresent("campaign_id") {
            guard let campaign = try await CampaignStore(database: database).campaign(campaignID.uuidString.lowercased()) else {
                throw ReconciliationError.notResumable(runID, "its campaign no longer exists")
            }
            return ReconcileScope(campaign: campaign)
        }
        let pools = try row.decode("pools", as: [String].self).compactMap { PoolID($0) }
        let attribute: String? = try row.decodeIfPresent("stable_id_attribute")
        return try ReconcileScope(pools: pools, stableIDAttribute: attribute)
    }

    /// Checks that `runID` can be resumed as `scope`, reads what it kept and sets it `running`
    /// again. The caller holds the scope's run lock; one transaction.
    static func restore(_ runID: UUID, scope: ReconcileScope, on connection: PostgresConnection) throws -> Restored {
        let run = try resumableRun(runID, scope: scope, on: connection)
        let (rows, nextSequence) = try stagedRows(of: runID, on: connection)
        let (saved, lost) = try savedPools(of: runID, scope: scope, stagedRows: rows, on: connection)
        try dropPoolsReadAfresh(of: runID, scope: scope, saved: saved, on: connection)
        try connection.execute("UPDATE reconcile_runs SET status = 'running', finished_at = NULL, error = NULL WHERE id = \(runID)")
        return Restored(startedAt: try run.decode("started_at"), nextSequence: nextSequence, saved: saved, lost: lost)
    }

    /// The row of `runID`, locked, once it is known to be a recent failed live run of `scope` with
    /// the same pools and stable-ID attribute that no later run completed since.
    static func resumableRun(_ runID: UUID, scope: ReconcileScope, on connection: PostgresConnection) throws -> PostgresRow {
        func refuse(_ reason: String) -> ReconciliationError { .notResumable(runID, reason) }
        let limit = Int(Housekeeping.resumableSnapshotLifetime.components.seconds)
        guard
            let run = try connection.query(
                """
                SELECT r.scope, r.pools, r.source, r.status, r.stable_id_attribute, r.started_at,
                       r.started_at > now() - make_interval(secs => \(limit)) AS recent,
                       EXISTS (SELECT 1 FROM reconcile_runs later
                               WHERE later.scope = r.scope AND later.status = 'completed' AND later.started_at > r.started_at)
                           AS superseded
                FROM reconcile_runs r WHERE r.id = \(runID)
                FOR UPDATE OF r
                """
            ).first
        else { throw ReconciliationError.runNotFound(runID) }
        let runScope: String = try run.decode("scope")
        guard runScope == scope.key else { throw refuse("it reconciled \(runScope), not \(scope.key)") }
        guard try run.decode("source", as: String.self) == ReconcileSource.live.rawValue else {
            throw refuse("it read pools from files, and only live runs are resumed (run it again: a file is read quickly)")
        }
        switch try run.decode("status", as: String.self) {
        case "failed": break
        case "completed": throw refuse("it completed")
        default: throw refuse("it is still running")
        }
        guard try run.decode("recent", as: Bool.self) else {
            throw refuse(
                "it started more than \(limit / 3600) h ago: its snapshot is too old to judge the map by, and Cognito's "
                    + "pagination tokens may have expired; start a new run")
        }
        guard try !run.decode("superseded", as: Bool.self) else {
            throw refuse("a later run of \(scope.key) completed since; start a new run")
        }
        let runPools = try run.decode("pools", as: [String].self)
        guard Set(runPools) == Set(scope.pools.map(\.rawValue)) else {
            throw refuse("it read \(runPools.sorted().joined(separator: ", ")), and the scope's pools are not those now; start a new run")
        }
        let attribute: String? = try run.decodeIfPresent("stable_id_attribute")
        guard attribute == scope.stableIDAttribute else {
            throw refuse(
                "it read the stable ID from \(attribute ?? "no attribute"), not \(scope.stableIDAttribute ?? "no attribute") "
                    + "(give --stable-id-attribute as that run did, or leave the scope out)")
        }
        return run
    }

    /// Staged rows per pool, and the sequence number after the run's last row.
    static func stagedRows(of runID: UUID, on connection: PostgresConnection) throws -> (rows: [String: Int], nextSequence: Int) {
        // What each pool's rows add up to: a crash of the server empties the unlogged snapshot
        // while the progress rows survive.
        var rows: [String: Int] = [:]
        var nextSequence = 0
        for row in try connection.query(
            "SELECT pool_id, count(*) AS n, max(seq) AS last FROM reconcile_snapshot WHERE run_id = \(runID) GROUP BY pool_id"
        ) {
            let pool: String = try row.decode("pool_id")
            let last: Int = try row.decode("last")
            rows[pool] = try row.decode("n", as: Int.self)
            nextSequence = max(nextSequence, last + 1)
        }
        return (rows, nextSequence)
    }

    /// Each scope pool's saved progress, checked against the rows staged for it (`rows`); pools
    /// whose rows are gone are `lost`.
    static func savedPools(
        of runID: UUID, scope: ReconcileScope, stagedRows rows: [String: Int], on connection: PostgresConnection
    ) throws -> (saved: [PoolID: SavedPool], lost: [PoolID]) {
        func refuse(_ reason: String) -> ReconciliationError { .notResumable(runID, reason) }
        var saved: [PoolID: SavedPool] = [:]
        var lost: [PoolID] = []
        let progress = try connection.query(
            "SELECT pool_id, started, pagination_token, staged, left_out, complete FROM reconcile_progress WHERE run_id = \(runID)"
        )
        for row in progress {
            let poolText: String = try row.decode("pool_id")
            guard let pool = PoolID(poolText), scope.pools.contains(pool) else { continue }
            let staged: Int = try row.decode("staged")
            let complete: Bool = try row.decode("complete")
            let token: String? = try row.decodeIfPresent("pagination_token")
            let leftOut: Int = try row.decode("left_out")
            let present = rows[pool.rawValue] ?? 0
            // Rows were staged and none are left: the server crashed (it empties unlogged tables).
            guard complete || token != nil, staged - leftOut == 0 || present > 0 else {
                lost.append(pool)
                continue
            }
            saved[pool] = SavedPool(
                started: try row.decode("started"), token: token, staged: staged, complete: complete, leftOut: leftOut
            )
        }
        guard !progress.isEmpty else {
            throw refuse("nothing it read was kept (it failed before its first page was staged); start a new run")
        }
        guard !saved.isEmpty else {
            throw refuse("the users it staged are gone (PostgreSQL restarted after a crash?); start a new run")
        }
        return (saved, lost)
    }

    /// Drops what the pools without saved progress left: they are read from the start.
    static func dropPoolsReadAfresh(
        of runID: UUID, scope: ReconcileScope, saved: [PoolID: SavedPool], on connection: PostgresConnection
    ) throws {
        // Pools read from the start: whatever they left (rows without progress, lost progress) goes.
        let fresh = scope.pools.filter { saved[$0] == nil }.map(\.rawValue)
        if !fresh.isEmpty {
            try connection.execute(
                "DELETE FROM reconcile_snapshot WHERE run_id = \(runID) AND pool_id = ANY(\(PostgresArray(fresh))::text[])"
            )
            try connection.execute(
                "DELETE FROM reconcile_progress WHERE run_id = \(runID) AND pool_id = ANY(\(PostgresArray(fresh))::text[])"
            )
        }
    }

    /// Marks failed the `running` rows of `scope`: the caller holds the scope's run lock, so the
    /// processes that wrote them are gone. A live one that saved progress keeps its snapshot, to be
    /// resumed; any other's snapshot is deleted.
    static func retireDeadRuns(of scope: ReconcileScope, on connection: PostgresConnection) throws {
        let dead = try connection.query(
            """
            SELECT r.id, r.source = 'live' AND EXISTS (SELECT 1 FROM reconcile_progress p WHERE p.run_id = r.id) AS resumable
            FROM reconcile_runs r WHERE r.scope = \(scope.key) AND r.status = 'running'
            FOR UPDATE OF r
            """
        ).map { row in try (id: row.decode("id", as: UUID.self), resumable: row.decode("resumable", as: Bool.self)) }
        for run in dead {
            let error =
                "abandoned: the process running it ended without finishing" + (run.resumable ? "; " + resumeHint(for: run.id) : "")
            try connection.execute(
                "UPDATE reconcile_runs SET status = 'failed', finished_at = clock_timestamp(), error = \(error) WHERE id = \(run.id)"
            )
        }
        let discarded = dead.filter { !$0.resumable }.map { $0.id }
        if !discarded.isEmpty {
            try connection.execute("DELETE FROM reconcile_snapshot WHERE run_id = ANY(\(PostgresArray(discarded))::uuid[])")
        }
    }

    // MARK: Staging with progress

    /// Stages a live pool a page at a time, each page with its progress; continues what a resumed
    /// run saved for the pool. When Cognito refuses the saved token on the first call, the pool's
    /// rows and progress are dropped and the pool is read from its first page.
    func stageLive(pool: PoolID, client: CognitoClient, progress: ProgressReporter?) async throws -> Int {
        let saved = try claim(pool, label: UserSource.listUsersLabel)
        let run = "\(id.uuidString.lowercased())"
        if let saved, saved.complete {
            state.withLock { state in
                state.snapshotStarted[pool] = saved.started
                state.invalidRecords += saved.leftOut
            }
            logger.info("pool read before the resume; not read again", metadata: ["run": "\(run)", "pool": "\(pool)"])
            return saved.staged
        }
        var started: Date
        if let saved {
            started = saved.started
            logger.info(
                "continuing the pool's snapshot", metadata: ["run": "\(run)", "pool": "\(pool)", "staged": "\(saved.staged)"]
            )
        } else {
            started = try await databaseNow()
        }
        state.withLock { $0.snapshotStarted[pool] = started }
        var staged = saved?.staged ?? 0
        let token = saved?.token
        var pages = UserSource.pool(pool, client: client, startingAt: token).batches().makeAsyncIterator()
        var page: UserBatch?
        do {
            page = try await pages.next()
            if let saved { state.withLock { $0.invalidRecords += saved.leftOut } }
        } catch let error as CognitoError where token != nil && error.rejectsPaginationToken {
            logger.warning(
                "Cognito refused the saved pagination token; reading the pool again from its first page",
                metadata: ["run": "\(run)", "pool": "\(pool)", "error": "\(error.type?.rawValue ?? "")"]
            )
            try await forget(pool)
            started = try await databaseNow()
            staged = 0
            state.withLock { $0.snapshotStarted[pool] = started }
            pages = UserSource.pool(pool, client: client).batches().makeAsyncIterator()
            page = try await pages.next()
        }
        while let batch = page {
            // A run that lost its lock may be resumed by another process under the same id: it
            // must stop writing to that run's snapshot (one round trip on the lock's connection).
            try await lock.verify()
            try await stagePage(batch, pool: pool, started: started)
            staged += batch.records.count
            progress?.update(adding: batch.records.count, detail: "\(pool): \(batch.progress.description)")
            page = try await pages.next()
        }
        return staged
    }

    /// One page into the snapshot, and the pool's progress moved past it, in one transaction: a
    /// crash never leaves rows staged without the token that follows them, or the token without
    /// the rows. An empty page still records its progress (an empty pool is complete).
    private func stagePage(_ batch: UserBatch, pool: PoolID, started: Date) async throws {
        let rows = snapshotRows(batch.records, pool: pool)
        let (runID, poolText, token, read) = (id, pool.rawValue, batch.nextToken, batch.records.count)
        let leftOut = read - rows.count
        try await database.primary.transaction { connection in
            if !rows.isEmpty {
                try connection.copyFrom(ReconciliationRun.snapshotCopy, rows: rows)
            }
            try connection.execute(
                """
                INSERT INTO reconcile_progress AS p (run_id, pool_id, started, pagination_token, staged, left_out, complete)
                VALUES (\(runID), \(poolText), \(started), \(token), \(read), \(leftOut), \(token == nil))
                ON CONFLICT (run_id, pool_id) DO UPDATE
                SET pagination_token = excluded.pagination_token, staged = p.staged + excluded.staged,
                    left_out = p.left_out + excluded.left_out, complete = excluded.complete, updated_at = now()
                """
            )
        }
    }

    /// Drops what the run staged of `pool` and its progress, to read it again from the start.
    private func forget(_ pool: PoolID) async throws {
        let (runID, poolText) = (id, pool.rawValue)
        try await database.primary.transaction { connection in
            try connection.execute("DELETE FROM reconcile_snapshot WHERE run_id = \(runID) AND pool_id = \(poolText)")
            try connection.execute("DELETE FROM reconcile_progress WHERE run_id = \(runID) AND pool_id = \(poolText)")
        }
    }
}
