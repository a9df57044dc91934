public import Foundation
public import IdentityMap
public import Logging
import Postgres
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
}
