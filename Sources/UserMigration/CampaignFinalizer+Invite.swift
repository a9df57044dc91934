import CognitoIngest
import Foundation
import IdentityMap
import Logging
import Synchronization

// Invite and passwordless: the unmigrated set a page at a time, each person through
// `finalize(_:plan:options:budget:)` (CampaignFinalizer+CreateUser.swift), many at once so that
// AdminCreateUser runs at its quota (the client's RatePacer spaces the calls; nothing bursts).
extension CampaignFinalizer {
    static let pageSize = 500

    func createUsers(_ plan: Plan, options: Options, progress: ProgressReporter?, into summary: inout FinalizeSummary) async throws {
        let budget = FinalizeBudget(options.limit)
        if options.resume, !options.dryRun {
            try await settleInterrupted(plan, options: options, progress: progress, into: &summary)
        }
        let store = self.store
        let campaign = plan.campaign
        summary = try await process(
            from: Int64(0),
            page: { (after: Int64) async throws -> ([FinalizeCandidate], Int64)? in
                let page = try await store.candidates(campaign: campaign, after: after, limit: Self.pageSize)
                return page.last.map { (page, $0.finding) }
            },
            workers: options.workers, budget: budget, progress: progress, summary: summary,
            work: { (candidate: FinalizeCandidate) in
                try await self.finalize(candidate, plan: plan, options: options, budget: budget)
            }
        )
    }

    /// Rows an interrupted run left `creating` must be settled (`--resume`) before anything new is
    /// created: checked before the run changes anything, under the campaign's lock (so they are a
    /// dead run's, not a running one's). A dry run only says so.
    func checkInterrupted(_ plan: Plan, options: Options, into summary: inout FinalizeSummary) async throws {
        guard options.mode != .csv, !options.resend, !options.resume else { return }
        let interrupted = try await store.interruptedCount(campaign: plan.campaign.id)
        guard interrupted > 0 else { return }
        guard !options.dryRun else {
            summary.warnings.append("\(interrupted) users were being created when an earlier run stopped: --resume settles them first")
            return
        }
        throw MigrationError.invalidCampaign(
            "\(interrupted) users were being created when an earlier finalize run of this campaign stopped: run again with --resume")
    }

    /// `--resume`: every row an interrupted run left `creating` is settled against the target pool
    /// before anything new is created (``settle(_:plan:)``).
    func settleInterrupted(
        _ plan: Plan, options: Options, progress: ProgressReporter?, into summary: inout FinalizeSummary
    ) async throws {
        let store = self.store
        let campaign = plan.campaign.id
        logger.info("settling users an interrupted run was creating", metadata: ["campaign": "\(campaign)"])
        summary = try await process(
            from: UUID?.none,
            page: { (after: UUID?) async throws -> ([FinalizeRecord], UUID?)? in
                let page = try await store.records(campaign: campaign, state: .creating, after: after, limit: Self.pageSize)
                return page.last.map { (page, Optional($0.person)) }
            },
            workers: options.workers, budget: FinalizeBudget(nil), progress: progress, summary: summary,
            work: { (record: FinalizeRecord) in
                try await self.settle(record, plan: plan)
            }
        )
    }

    /// Runs `work` for every item the pages bring, `workers` at a time (``PagedWork``).
    func process<Item: Sendable, Cursor: Sendable>(
        from first: Cursor,
        page nextPage: @escaping @Sendable (Cursor) async throws -> ([Item], Cursor)?,
        workers: Int, budget: FinalizeBudget, progress: ProgressReporter?, summary start: FinalizeSummary,
        work: @escaping @Sendable (Item) async throws -> FinalizeOutcome
    ) async throws -> FinalizeSummary {
        try await PagedWork.run(
            from: first, page: nextPage, workers: workers, budget: budget, progress: progress, tally: start, work: work)
    }
}

/// `--limit`: how many more users this run may create (export, resend). Shared by the workers.
final class FinalizeBudget: Sendable {
    private let remaining: Mutex<Int?>

    init(_ limit: Int?) {
        remaining = Mutex(limit)
    }

    /// Takes one; false when none is left (nil limit: always true).
    func take() -> Bool {
        remaining.withLock { remaining in
            guard let left = remaining else { return true }
            guard left > 0 else { return false }
            remaining = left - 1
            return true
        }
    }

    /// Returns a unit taken for a user this run did not claim after all.
    func giveBack() {
        remaining.withLock { remaining in
            if let left = remaining { remaining = left + 1 }
        }
    }

    var exhausted: Bool {
        remaining.withLock { remaining in remaining.map { $0 <= 0 } ?? false }
    }
}
