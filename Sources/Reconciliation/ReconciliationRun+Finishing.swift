import CognitoIngest
import Foundation
import IdentityMap
import Logging
import Postgres
import Synchronization

/// Finishing: classify and fix under the import's per-pool locks, or abandon; either way the run is
/// recorded and cleaned up.
extension ReconciliationRun {
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
