import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Logging

// The source users a page at a time through many workers (the client's RatePacer spaces the
// AdminDisableUser / AdminDeleteUser calls at the UserResourceUpdate quota), and the settling of
// rows an interrupted run left `cleaning`.
extension SourceCleanup {
    func cleanUsers(
        _ plan: Plan, options: Options, budget: FinalizeBudget, progress: ProgressReporter?, into summary: CleanupSummary
    ) async throws -> CleanupSummary {
        let store = self.store
        let campaign = plan.campaign
        let (mode, olderThan) = (options.mode, options.olderThan)
        return try await PagedWork.run(
            from: Int64(0),
            page: { (after: Int64) async throws -> ([CleanupCandidate], Int64)? in
                let page = try await store.candidates(
                    campaign: campaign, mode: mode, olderThan: olderThan, .page(after: after, limit: Self.pageSize))
                return page.last.map { (page, $0.identity) }
            },
            workers: options.workers, budget: budget, progress: progress, tally: summary,
            work: { (candidate: CleanupCandidate) in
                try await self.clean(candidate, plan: plan, options: options, budget: budget)
            }
        )
    }

    /// One source user: the map's facts, then AdminGetUser, then (applying) the map's facts again
    /// on the primary, the row `cleaning`, the Cognito call, and the identity's new status with the
    /// row `done`. A failure Cognito may have acted on (a timeout, a 5xx after every retry, access
    /// refused) stops the run and leaves the row `cleaning`, for `--resume`.
    func clean(_ candidate: CleanupCandidate, plan: Plan, options: Options, budget: FinalizeBudget) async throws -> CleanupOutcome {
        if let skip = CleanupRules.beforeReading(candidate, mode: options.mode) {
            return .skipped(skip)
        }
        guard let pool = plan.sources[candidate.pool] else { return .ignored }
        let client = try clients.client(for: pool)
        let found: AdminGetUserResponse?
        do {
            found = try await client.adminGetUser(poolID: pool.id.rawValue, username: candidate.username)
        } catch let error as CognitoError where error.type == .userNotFound {
            found = nil
        }
        // Membership is judged now, from the attributes just read (the member file was asked in
        // the candidates' query).
        let inSubset = found.map { user in plan.campaign.subset?.matches({ user.attribute($0) }) ?? true } ?? true
        let facts = found.map { user in
            CleanupSourceFacts(sub: user.attribute("sub"), enabled: user.Enabled != false, lastModified: user.UserLastModifiedDate)
        }
        if let skip = CleanupRules.afterReading(facts, candidate: candidate, mode: options.mode, inSubset: inSubset) {
            return .skipped(skip)
        }
        let user = CleanupSummary.User(person: candidate.person, pool: candidate.pool, sub: candidate.sub)
        // The page was read long ago, perhaps: the same query for this one user, now, on the
        // primary, judged by the same rules (a dry run changes nothing, so it need not ask).
        if !options.dryRun {
            let current = try await store.candidates(
                campaign: plan.campaign, mode: options.mode, olderThan: options.olderThan, .identity(candidate.identity)
            ).first
            if let skip = CleanupRules.recheck(current, planned: candidate, source: facts, mode: options.mode, inSubset: inSubset) {
                return .skippedOnRecheck(user, skip)
            }
        }
        guard budget.take() else { return .limitReached }
        if options.dryRun { return .wouldClean(user) }
        // `--limit` counts the users this run claimed: a claim that fails gives its unit back.
        guard try await store.claim(candidate, mode: options.mode, campaign: plan.campaign.id) else {
            budget.giveBack()
            return .skipped(.inProgress)
        }
        do {
            switch options.mode {
            case .disable: try await client.adminDisableUser(poolID: pool.id.rawValue, username: candidate.username)
            case .delete: try await client.adminDeleteUser(poolID: pool.id.rawValue, username: candidate.username)
            }
        } catch let error as CognitoError where error.type == .userNotFound {
            // Gone between the read and the call: not this run's doing; the map is reconciliation's.
            try await store.markFailed(identity: candidate.identity, campaign: plan.campaign.id, code: "user_not_found")
            return .skipped(.alreadyGone)
        } catch let error as CognitoError where Self.refusedOutright(error) {
            // Cognito refused this user and did nothing (a 4xx that is no throttling: a permission,
            // a parameter): the user is listed as failed and the run goes on with the others;
            // stopping here would stop every later run at the same user.
            let code = error.type?.rawValue ?? "refused"
            try await store.markFailed(identity: candidate.identity, campaign: plan.campaign.id, code: code)
            return .failed(user, code: code)
        }
        let completed = try await store.complete(
            identity: candidate.identity, pool: candidate.pool, sub: candidate.sub, mode: options.mode, campaign: plan.campaign.id,
            attribution: attribution)
        return completed ? .cleaned(user, settled: false) : .skipped(.inProgress)
    }

    /// A Cognito answer that says the call was refused and nothing was done: an HTTP 4xx other
    /// than throttling. Timeouts and 5xx may have been acted on; they stop the run (`--resume`).
    static func refusedOutright(_ error: CognitoError) -> Bool {
        guard case .service(_, _, let status) = error, (400..<500).contains(status) else { return false }
        return !error.isRetryable && !(error.type == .tooManyRequests || error.type == .throttling)
    }

    /// `--resume`: every row an interrupted run left `cleaning` is settled against its pool before
    /// anything else (``settle(_:plan:)``).
    func settleInterrupted(
        _ plan: Plan, options: Options, progress: ProgressReporter?, into summary: CleanupSummary
    ) async throws -> CleanupSummary {
        let store = self.store
        let campaign = plan.campaign.id
        logger.info("settling users an interrupted cleanup was cleaning", metadata: ["campaign": "\(campaign)"])
        return try await PagedWork.run(
            from: Int64(0),
            page: { (after: Int64) async throws -> ([CleanupStore.Interrupted], Int64)? in
                let page = try await store.interrupted(campaign: campaign, after: after, limit: Self.pageSize)
                return page.last.map { (page, $0.identity) }
            },
            workers: options.workers, budget: FinalizeBudget(nil), progress: progress, tally: summary,
            work: { (row: CleanupStore.Interrupted) in
                try await self.settle(row, plan: plan)
            }
        )
    }

    /// A row whose Cognito call may or may not have happened, asked of the pool (AdminGetUser):
    /// a user gone (or whose username is another user's now) is recorded `deleted`, one disabled
    /// for a `disable` row `disabled` — each with its event, counted `settled` — and a user the
    /// call never reached makes the row `failed` (`interrupted`), which this run's pass takes up
    /// again. Nobody gets a second call.
    func settle(_ row: CleanupStore.Interrupted, plan: Plan) async throws -> CleanupOutcome {
        let campaign = plan.campaign.id
        guard let username = row.username, let pool = plan.sources[row.pool] else {
            // Erased since (or no longer a source): never looked up again.
            try await store.markFailed(identity: row.identity, campaign: campaign, code: "erased")
            return .ignored
        }
        let found: AdminGetUserResponse?
        do {
            found = try await clients.client(for: pool).adminGetUser(poolID: pool.id.rawValue, username: username)
        } catch let error as CognitoError where error.type == .userNotFound {
            found = nil
        }
        let status: CleanupMode
        if let found, found.attribute("sub").flatMap(CognitoSub.canonical) == CognitoSub.canonical(row.sub) {
            guard row.mode == .disable, found.Enabled == false else {
                try await store.markFailed(identity: row.identity, campaign: campaign, code: "interrupted")
                return .ignored
            }
            status = .disable
        } else {
            status = .delete
        }
        let completed = try await store.complete(
            identity: row.identity, pool: row.pool, sub: row.sub, mode: status, campaign: campaign, attribution: attribution)
        return completed ? .cleaned(CleanupSummary.User(person: row.person, pool: row.pool, sub: row.sub), settled: true) : .ignored
    }
}
