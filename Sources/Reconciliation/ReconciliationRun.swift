import Cognito
public import CognitoIngest
public import Foundation
public import IdentityMap
public import Logging
import Postgres
import Support
import Synchronization

/// One `stableid reconcile` (DESIGN §6), in three steps a caller drives:
///
/// 1. ``start(database:scope:source:locking:attribution:logger:)`` takes the run-level lock (one
///    run per scope; a second one fails fast, before it calls Cognito) and records the run — or
///    ``resume(database:runID:scope:locking:attribution:logger:)`` takes it for a live run that
///    failed while reading, to continue its snapshot;
/// 2. ``stage(pool:from:progress:)`` once per pool of the scope streams its users into
///    `reconcile_snapshot` by COPY, a ListUsers page or file chunk at a time (memory stays flat);
///    a live run saves each page's following token with the page (ReconciliationRun+Resume.swift);
/// 3. ``finish(fixing:)`` takes the per-pool locks the import uses, classifies set-wise and
///    records findings and events in one transaction (all or nothing), then applies fixes if asked,
///    and answers the report. ``abandon(reason:)`` ends a run that cannot finish.
///
/// Either way the snapshot is deleted and the locks released; a failed run is recorded `failed`.
/// The exception: a live run abandoned while reading keeps its snapshot and progress for a day,
/// to be resumed.
public final class ReconciliationRun: Sendable {
    public let id: UUID
    public let scope: ReconcileScope
    public let source: ReconcileSource
    public let startedAt: Date
    let database: Database
    let attribution: Attribution
    let locking: ReconcileLockPolicy
    let logger: Logger
    let lock: ReconcileRunLock

    struct State {
        var nextSequence = 0
        /// Records left out of the snapshot for a sub that is no UUID (reported as a warning).
        var invalidRecords = 0
        /// Pool → the label of the source its users came from.
        var staged: [PoolID: String] = [:]
        /// Pool → when its snapshot started, in database time (the clock of `linked_at` and
        /// `updated_at`). A user created while the pool is read, and linked by a trigger, can be
        /// missing from the snapshot; what the map changed from this moment on is not judged
        /// against it, nor fixed from it.
        var snapshotStarted: [PoolID: Date] = [:]
        /// A resumed run: what its earlier attempts read of each pool. A pool's entry is handed
        /// to the call that stages the pool; complete pools nobody staged are taken by `finish`.
        var saved: [PoolID: SavedPool] = [:]
        var closed = false
    }
    let state: Mutex<State>

    /// The advisory-lock name of a run scope; an import's per-pool lock
    /// (``BackfillImport/lockName(for:)``) is shared with ``finish(fixing:)``.
    public static func lockName(for scope: ReconcileScope) -> String { "stableid-reconcile:" + scope.key }

    init(
        id: UUID, scope: ReconcileScope, source: ReconcileSource, startedAt: Date, database: Database, attribution: Attribution,
        locking: ReconcileLockPolicy, logger: Logger, lock: ReconcileRunLock, state: State = State()
    ) {
        self.id = id
        self.scope = scope
        self.source = source
        self.startedAt = startedAt
        self.database = database
        self.attribution = attribution
        self.locking = locking
        self.logger = logger
        self.lock = lock
        self.state = Mutex(state)
    }

    /// Checks that the scope's pools exist, then takes the scope's run lock (one run at a time;
    /// `start` and `resume` both begin here).
    static func lockScope(_ scope: ReconcileScope, database: Database, locking: ReconcileLockPolicy) async throws -> ReconcileRunLock {
        let pools = PoolStore(database: database)
        for pool in scope.pools {
            guard try await pools.pool(pool) != nil else { throw ReconciliationError.unknownPool(pool.rawValue) }
        }
        return try await ReconcileRunLock.acquire(
            name: lockName(for: scope), configuration: database.primary.configuration, policy: locking)
    }

    /// Checks the scope's pools, takes the run lock and records the run as `running`. A `running`
    /// row of the same scope found now belongs to a run that died (it held the lock we now hold):
    /// it is marked failed and its snapshot removed, unless it was live and saved progress (then
    /// it can be resumed: ``retireDeadRuns(of:on:)``).
    public static func start(
        database: Database, scope: ReconcileScope, source: ReconcileSource, locking: ReconcileLockPolicy = .failFast,
        attribution: Attribution, logger: Logger
    ) async throws -> ReconciliationRun {
        let lock = try await lockScope(scope, database: database, locking: locking)
        let id = UUIDv7.make()
        do {
            let startedAt: Date = try await database.primary.transaction { connection in
                try ReconciliationRun.retireDeadRuns(of: scope, on: connection)
                return try connection.query(
                    """
                    INSERT INTO reconcile_runs (id, scope, campaign_id, pools, source, actor, stable_id_attribute)
                    VALUES (\(id), \(scope.key), \(scope.campaignID), \(PostgresArray(scope.pools.map(\.rawValue)))::text[],
                            \(source.rawValue), \(attribution.actor.description), \(scope.stableIDAttribute))
                    RETURNING started_at
                    """
                )[0].decode("started_at")
            }
            logger.info(
                "reconciliation started",
                metadata: ["run": "\(id.uuidString.lowercased())", "scope": "\(scope.key)", "source": "\(source.rawValue)"]
            )
            return ReconciliationRun(
                id: id, scope: scope, source: source, startedAt: startedAt, database: database, attribution: attribution,
                locking: locking, logger: logger, lock: lock
            )
        } catch {
            lock.release()
            throw error
        }
    }

    // MARK: Staging

    /// Streams every user `source` yields into the snapshot of `pool`, and returns how many. Each
    /// pool of the scope is staged exactly once. Errors are the source's (`UserFileReader.Failure`,
    /// `CognitoError`) or staging's; the run stays open, so the caller can `abandon` it.
    ///
    /// The snapshot's start is taken from the database before the first read. A file holds the
    /// pool as it was when it was written, so its start is its modification time when that is
    /// earlier (a copy that refreshed the time makes it later than the export: then the window in
    /// which a new user is misjudged is the file's age, as before).
    ///
    /// In a live run a `.pool` source is read with its progress saved page by page, and the run
    /// decides where it starts (the source's own `startingAt` is not used): a pool a resumed run
    /// read completely is not read again, a partly read one continues from its saved token, and
    /// the count returned includes what the earlier attempts staged.
    @discardableResult
    public func stage(pool: PoolID, from source: UserSource, progress: ProgressReporter? = nil) async throws -> Int {
        if self.source == .live, case .pool(_, let client, _) = source {
            return try await stageLive(pool: pool, client: client, progress: progress)
        }
        var started = try await databaseNow()
        if case .file(let path, _) = source,
            let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        {
            started = min(started, modified)
        }
        try begin(pool: pool, label: source.label, started: started)
        var staged = 0
        for try await batch in source.batches() {
            try await copy(batch.records, pool: pool)
            staged += batch.records.count
            progress?.update(adding: batch.records.count, detail: "\(pool): \(batch.progress.description)")
        }
        return staged
    }

    /// Stages users already in memory (tests, a caller with its own reader); same rules as above.
    @discardableResult
    public func stage(pool: PoolID, records: [CognitoUserRecord], label: String = "records") async throws -> Int {
        try begin(pool: pool, label: label, started: try await databaseNow())
        try await copy(records, pool: pool)
        return records.count
    }

    private func begin(pool: PoolID, label: String, started: Date) throws {
        guard try claim(pool, label: label) == nil else {
            throw ReconciliationError.notResumable(id, "pool \(pool) was being read live; a resumed run reads it live")
        }
        state.withLock { $0.snapshotStarted[pool] = started }
    }

    /// Marks `pool` as staged by the caller, and hands over what earlier attempts of a resumed
    /// run read of it (nil for a run that was not resumed, or a pool it had not read).
    func claim(_ pool: PoolID, label: String) throws -> SavedPool? {
        guard scope.pools.contains(pool) else { throw ReconciliationError.poolNotInScope(pool.rawValue) }
        return try state.withLock { state in
            guard !state.closed else { throw ReconciliationError.runClosed(id) }
            guard state.staged[pool] == nil else { throw ReconciliationError.poolStagedTwice(pool.rawValue) }
            state.staged[pool] = label
            return state.saved.removeValue(forKey: pool)
        }
    }

    /// The database's clock, which stamps `linked_at` and `updated_at`: comparing with the host's
    /// clock would let skew open the window this guards.
    func databaseNow() async throws -> Date {
        try await database.primary.query("SELECT clock_timestamp() AS now")[0].decode("now")
    }

    /// The user id a stable-ID attribute names: a UUID in any case, spaces around it ignored (as
    /// `btrim` ignores them when the attribute is read); nil for anything else.
    static func namedUser(_ attribute: String) -> String? {
        var text = Substring(attribute)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return UUID(uuidString: String(text))?.uuidString.lowercased()
    }

    private func copy(_ records: [CognitoUserRecord], pool: PoolID) async throws {
        guard !records.isEmpty else { return }
        let rows = snapshotRows(records, pool: pool)
        guard !rows.isEmpty else { return }
        _ = try await database.primary.withConnection { connection in
            try connection.copyFrom(Self.snapshotCopy, rows: rows)
        }
    }

    /// The COPY that stages snapshot rows (``snapshotRows(_:pool:)`` gives them in this order).
    static let snapshotCopy: PostgresQuery = """
        COPY reconcile_snapshot (run_id, pool_id, seq, sub, username, email, email_normalized, email_verified, enabled,
                                 user_status, provider, provider_user_id, stable_id_attr, stable_id_user)
        FROM STDIN
        """

    /// The snapshot rows of `records`, numbered on from the run's sequence. A record whose sub is
    /// no UUID cannot be anyone's identity: it is counted, not staged.
    func snapshotRows(_ records: [CognitoUserRecord], pool: PoolID) -> [[String?]] {
        let valid = records.compactMap { record in CognitoSub.canonical(record.sub).map { (record, $0) } }
        let first = state.withLock { state in
            defer {
                state.nextSequence += valid.count
                state.invalidRecords += records.count - valid.count
            }
            return state.nextSequence
        }
        let (runID, poolText, attribute) = (id.uuidString.lowercased(), pool.rawValue, scope.stableIDAttribute)
        return valid.enumerated().map { offset, element -> [String?] in
            let (record, sub) = element
            let stableID = attribute.flatMap { record.customAttributes[$0] }
            return [
                runID, poolText, String(first + offset), sub, record.username,
                record.email, record.email.flatMap(EmailAddress.normalize), record.emailVerified ? "t" : "f",
                record.enabled ? "t" : "f", record.userStatus.rawValue, record.provider, record.federatedUserID,
                stableID, stableID.flatMap(Self.namedUser),
            ]
        }
    }

    // MARK: Finishing

    /// Classifies the snapshot and records findings (one transaction, under the import's per-pool
    /// advisory locks, taken in pool order); then, with `fix`, applies the fixes (a second
    /// transaction, rolled back for a dry run). Nothing of a failed classification is committed;
    /// the run is then marked failed and the error rethrown.
    public func finish(fixing fix: FixRequest? = nil) async throws -> ReconcileReport {
        let (staged, started) = try state.withLock { state -> ([PoolID: String], [PoolID: Date]) in
            guard !state.closed else { throw ReconciliationError.runClosed(id) }
            state.closed = true
            // A pool a resumed run had read completely needs no staging call.
            for (pool, saved) in state.saved where saved.complete {
                state.staged[pool] = UserSource.listUsersLabel
                state.snapshotStarted[pool] = saved.started
                state.invalidRecords += saved.leftOut
            }
            state.saved = [:]
            return (state.staged, state.snapshotStarted)
        }
        do {
            let missing = scope.pools.filter { staged[$0] == nil || started[$0] == nil }.map(\.rawValue)
            guard missing.isEmpty else { throw ReconciliationError.missingSnapshots(missing) }
            try await lock.verify()
            let report = try await classifyAndFix(
                fix: fix, sources: Dictionary(uniqueKeysWithValues: staged.map { ($0.key.rawValue, $0.value) }),
                snapshotStarted: Dictionary(uniqueKeysWithValues: started.map { ($0.key.rawValue, $0.value) })
            )
            await cleanUp(completed: true)
            logger.info(
                "reconciliation finished",
                metadata: [
                    "run": "\(id.uuidString.lowercased())", "scope": "\(scope.key)",
                    "open": "\(report.counts.total)", "new": "\(report.new.total)", "resolved": "\(report.resolved.total)",
                    "fixed": "\(report.fixes?.fixed ?? 0)", "dry_run": "\(report.fixes?.dryRun ?? false)",
                ]
            )
            return report
        } catch {
            await markFailed(error)
            throw error
        }
    }

    /// Ends a run that will not be finished (a source failed, the operator interrupted): marks it
    /// failed, deletes its snapshot and releases its lock. Does nothing for a finished run.
    ///
    /// A live run that saved progress (it staged at least one page) keeps its snapshot and
    /// progress instead, and answers true: ``resume(database:runID:scope:locking:attribution:logger:)``
    /// can continue it for ``Housekeeping/resumableSnapshotLifetime`` after its start. File runs
    /// are never kept (reading a file again is quick).
    @discardableResult
    public func abandon(reason: String) async -> Bool {
        let wasOpen = state.withLock { state in
            defer { state.closed = true }
            return !state.closed
        }
        guard wasOpen else { return false }
        return await markFailed(message: reason, keepingProgress: true)
    }

    private func classifyAndFix(
        fix: FixRequest?, sources: [String: String], snapshotStarted: [String: Date]
    ) async throws -> ReconcileReport {
        let classification = ReconcileClassifier.Context(
            runID: id, scope: scope, source: source, sources: sources, snapshotStarted: snapshotStarted,
            invalidRecords: state.withLock(\.invalidRecords), attribution: attribution
        )
        let fixing = ReconcileFixer.Context(
            runID: id, scope: scope, database: database, attribution: attribution, snapshotStarted: snapshotStarted
        )
        let (scope, locking) = (self.scope, self.locking)
        let (outcome, fixReport, counts) = try await database.primary.withConnection {
            connection -> (ReconcileClassifier.Outcome, FixReport?, FindingCounts) in
            let held = try PoolLocks.acquire(scope.pools, policy: locking, on: connection)
            defer { PoolLocks.release(held, on: connection) }
            // One snapshot of the map for the whole classification: every statement sees the
            // same identities, whatever the triggers commit meanwhile. The locks are taken before
            // BEGIN, so the snapshot is taken after any import that held them has committed.
            let outcome = try connection.transaction(isolation: .repeatableRead) { connection in
                try ReconcileClassifier.classify(classification, on: connection)
            }
            guard let fix else { return (outcome, nil, outcome.counts) }
            do {
                return try connection.transaction { connection in
                    let report = try ReconcileFixer.fix(fix, fixing, on: connection)
                    guard fix.apply else { throw ReconcileFixer.DryRun(report: report) }
                    let counts = try FindingSQL.openCounts(scope: scope.key, on: connection)
                    let resolved = ReconciliationRun.adding(fixed: report, to: outcome.resolved)
                    let countsJSON = try PostgresJSON(encoding: counts.dictionary)
                    let resolvedJSON = try PostgresJSON(encoding: resolved.dictionary)
                    try connection.execute(
                        """
                        UPDATE reconcile_runs SET counts = \(countsJSON)::jsonb, resolved = \(resolvedJSON)::jsonb
                        WHERE id = \(fixing.runID)
                        """
                    )
                    return (outcome, report, counts)
                }
            } catch let dryRun as ReconcileFixer.DryRun {
                return (outcome, dryRun.report, outcome.counts)
            }
        }
        var resolved = outcome.resolved
        if let fixReport, !fixReport.dryRun { resolved = ReconciliationRun.adding(fixed: fixReport, to: resolved) }
        return ReconcileReport(
            run: ReconcileReport.Run(
                id: id, scope: scope.key, campaignID: scope.campaignID, pools: scope.pools.map(\.rawValue), source: source,
                status: .completed, actor: attribution.actor.description, startedAt: startedAt, finishedAt: outcome.finishedAt,
                scanned: outcome.scanned
            ),
            counts: counts, new: outcome.opened, resolved: resolved, warnings: outcome.warnings + (fixReport?.warnings ?? []),
            fixes: fixReport
        )
    }

    /// Findings a fix resolved count as resolved by the run.
    static func adding(fixed report: FixReport, to resolved: FindingCounts) -> FindingCounts {
        var total = resolved
        for (kind, outcome) in report.outcomes {
            if let kind = FindingKind(rawValue: kind) { total[kind] += outcome.fixed }
        }
        return total
    }

    /// Records the failure (unless the run completed: a failed fix leaves the findings that were
    /// committed), then cleans up.
    private func markFailed(_ error: any Error) async {
        await markFailed(message: Self.summary(error))
    }

    /// With `keepingProgress`, a live run that saved progress is recorded failed with how to
    /// resume it, and keeps its snapshot; answers whether it did.
    @discardableResult
    private func markFailed(message: String, keepingProgress: Bool = false) async -> Bool {
        let runID = id
        guard keepingProgress, source == .live else {
            let text = String(message.prefix(500))
            _ = try? await database.primary.query(
                """
                UPDATE reconcile_runs SET status = 'failed', finished_at = clock_timestamp(), error = \(text)
                WHERE id = \(runID) AND status = 'running'
                """
            )
            logger.warning("reconciliation failed", metadata: ["run": "\(runID.uuidString.lowercased())", "error": "\(text)"])
            await cleanUp()
            return false
        }
        // Without the lock, the row may already be another process's: a run that found this one
        // dead keeps what it read, and may be resuming it. Leave everything to that one.
        guard (try? await lock.verify()) != nil else {
            logger.warning("reconciliation failed after losing its lock", metadata: ["run": "\(runID.uuidString.lowercased())"])
            lock.release()
            return false
        }
        let text = String(message.prefix(300))
        let resumable = text + "; " + Self.resumeHint(for: runID)
        let answer = try? await database.primary.query(
            """
            UPDATE reconcile_runs r SET status = 'failed', finished_at = clock_timestamp(),
                error = CASE WHEN EXISTS (SELECT 1 FROM reconcile_progress p WHERE p.run_id = r.id) THEN \(resumable) ELSE \(text) END
            WHERE r.id = \(runID) AND r.status = 'running'
            RETURNING EXISTS (SELECT 1 FROM reconcile_progress p WHERE p.run_id = r.id) AS kept
            """
        )
        let kept = (try? answer?.first?.decode("kept", as: Bool.self)) ?? false
        logger.warning(
            "reconciliation failed",
            metadata: ["run": "\(runID.uuidString.lowercased())", "error": "\(text)", "resumable": "\(kept)"]
        )
        if kept || answer == nil {
            // Kept to be resumed. When the failure could not even be recorded (the database is
            // unreachable), the row stays `running`: the next run of the scope retires it and
            // keeps what it read.
            lock.release()
        } else {
            await cleanUp()
        }
        return kept
    }

    /// The snapshot never outlives its run (unless kept to be resumed); then the run lock goes. A
    /// completed run also removes what earlier failed runs of its scope kept: once a later run of
    /// the scope completed, resuming them would judge the map against an older snapshot.
    private func cleanUp(completed: Bool = false) async {
        let (runID, scopeKey, startedAt) = (id, scope.key, self.startedAt)
        _ = try? await database.primary.query("DELETE FROM reconcile_snapshot WHERE run_id = \(runID)")
        if source == .live {
            _ = try? await database.primary.query("DELETE FROM reconcile_progress WHERE run_id = \(runID)")
        }
        if completed {
            let superseded: PostgresQuery = """
                SELECT r.id FROM reconcile_runs r
                WHERE r.scope = \(scopeKey) AND r.status = 'failed' AND r.started_at < \(startedAt)
                """
            _ = try? await database.primary.withConnection { connection in
                try connection.execute("DELETE FROM reconcile_progress WHERE run_id IN (\(fragment: superseded))")
                try connection.execute("DELETE FROM reconcile_snapshot WHERE run_id IN (\(fragment: superseded))")
            }
        }
        lock.release()
    }

    /// What goes into `reconcile_runs.error` and the log: our own words, never a bind value.
    static func summary(_ error: any Error) -> String {
        switch error {
        case let error as ReconciliationError: return error.description
        case let error as PostgresError: return "database error \(error.sqlState ?? "\(error.kind)")"
        case is CancellationError: return "cancelled"
        default: return "\(type(of: error))"
        }
    }
}

/// The import's per-pool advisory locks (``BackfillImport/lockName(for:)``), taken in pool order
/// so two runs over overlapping pools cannot deadlock. Session-level rather than
/// transaction-level so they can be taken before a REPEATABLE READ transaction begins (its
/// snapshot must not predate an import that held them) and still cover the fix transaction.
enum PoolLocks {
    static func acquire(_ pools: [PoolID], policy: ReconcileLockPolicy, on connection: PostgresConnection) throws -> [String] {
        var held: [String] = []
        do {
            for pool in pools.sorted() {
                let name = BackfillImport.lockName(for: pool)
                switch policy {
                case .failFast:
                    let acquired: Bool = try connection.query("SELECT pg_try_advisory_lock(hashtext(\(name))) AS acquired")[0]
                        .decode("acquired")
                    guard acquired else {
                        throw ReconciliationError.busy("an import or another reconciliation is working on pool \(pool)")
                    }
                case .wait(let timeout):
                    do {
                        try withLockTimeout(timeout, on: connection) {
                            try connection.execute("SELECT pg_advisory_lock(hashtext(\(name)))")
                        }
                    } catch let error as PostgresError where error.isTimeout {
                        throw ReconciliationError.busy("timed out waiting for an import or reconciliation of pool \(pool)")
                    }
                }
                held.append(name)
            }
        } catch {
            release(held, on: connection)
            throw error
        }
        return held
    }

    /// `lock_timeout` bounds advisory-lock waits too, and the pool's job sessions set it to a
    /// minute: `--wait` must wait as long as it was told (nil: for as long as an import takes).
    /// The session's own value is put back afterwards, since the connection returns to the pool
    /// and the classification must not wait forever on a row lock.
    static func withLockTimeout<T>(_ timeout: Duration?, on connection: PostgresConnection, _ body: () throws -> T) throws -> T {
        let previous: String = try connection.query("SELECT current_setting('lock_timeout') AS value")[0].decode("value")
        let milliseconds = timeout.map { Int(max(1, $0.milliseconds)) } ?? 0
        try connection.execute("SELECT set_config('lock_timeout', \(String(milliseconds)), false)")
        defer { _ = try? connection.execute("SELECT set_config('lock_timeout', \(previous), false)") }
        return try body()
    }

    /// Best effort: a connection that broke has lost its session, and its locks with it.
    static func release(_ names: [String], on connection: PostgresConnection) {
        for name in names.reversed() {
            _ = try? connection.execute("SELECT pg_advisory_unlock(hashtext(\(name)))")
        }
    }
}
