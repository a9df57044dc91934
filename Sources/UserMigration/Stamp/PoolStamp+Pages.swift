import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Logging

// The pages of a stamp run: ListUsers a page at a time, the map's answer for the whole page, the
// writes and removals handed to `workers` tasks, and each page's progress saved once it and every
// page before it are handled (``StampWindow``). The next page is read while the last writes of the
// one before are still out, so the workers do not wait for Cognito or the database between pages.
extension PoolStamp {
    /// A ListUsers page, decided: what it counts, and the users to write.
    struct DecidedPage: Sendable {
        var nextToken: String?
        var users: Int
        var counts = StampCounts()
        var writes: [StampWrite] = []
    }

    /// One user to write, or whose attribute to remove.
    struct StampWrite: Sendable {
        enum Action: Sendable, Equatable {
            /// AdminUpdateUserAttributes with the person's ID.
            case stamp(person: UUID)
            /// AdminDeleteUserAttributes; `person` is the identity's person when the map holds the sub.
            case clear(reason: StampClearReason, person: UUID?)
        }

        var username: String
        var sub: String
        var action: Action
        /// The attribute as ListUsers returned it.
        var previous: String?
    }

    /// What came of one write or removal.
    enum WriteOutcome: Sendable, Equatable {
        case changed
        case cleared
        /// Deleted from the pool since ListUsers.
        case gone
        case failed(StampSummary.Failure)
    }

    struct WriteResult: Sendable {
        var sequence: Int
        var outcome: WriteOutcome
    }

    /// The run's ListUsers pages from a saved token.
    struct Listing {
        var pages: ListUsersPages.AsyncIterator
        /// The next call sends a saved token, which Cognito may no longer take.
        var fromSavedToken: Bool
        /// The last page was read.
        var done = false
    }

    /// Stamps the pages from `token` (nil: the first). `run` nil is a dry run: nothing is written
    /// or saved. Returns `start` with this invocation's work added.
    func stampPages(
        _ plan: Plan, from token: String?, run: UUID?, options: Options, progress: ProgressReporter?, summary start: StampSummary
    ) async throws -> StampSummary {
        let budget = FinalizeBudget(options.limit)
        let workers = max(1, options.workers)
        return try await withThrowingTaskGroup(of: WriteResult.self, returning: StampSummary.self) { group in
            var listing = Listing(pages: listUsers(plan, options: options, from: token).makeAsyncIterator(), fromSavedToken: token != nil)
            var summary = start
            var window = StampWindow()
            var running = 0
            var checked = ContinuousClock.now
            pages: while true {
                if budget.exhausted {
                    summary.limitReached = !listing.done
                    break
                }
                if ContinuousClock.now - checked >= options.safetyRecheck {
                    try await recheckSafety(plan)
                    checked = .now
                }
                guard let page = try await nextPage(&listing, plan: plan, run: run, options: options, summary: &summary) else { break }
                let decided = try await decide(page, plan: plan, run: run)
                let sequence = window.open(nextToken: decided.nextToken, users: decided.users, counts: decided.counts)
                for user in decided.writes {
                    guard budget.take() else {
                        summary.limitReached = true
                        break pages
                    }
                    if running >= workers, let result = try await group.next() {
                        running -= 1
                        Self.settle(result, window: &window, summary: &summary)
                    }
                    group.addTask {
                        let outcome = try await self.write(user, plan: plan, run: run)
                        return WriteResult(sequence: sequence, outcome: outcome)
                    }
                    running += 1
                    window.dispatched(to: sequence)
                }
                window.close(sequence)
                try await commitFinished(&window, run: run, summary: &summary, progress: progress)
            }
            while let result = try await group.next() {
                Self.settle(result, window: &window, summary: &summary)
                try await commitFinished(&window, run: run, summary: &summary, progress: progress)
            }
            return summary
        }
    }

    /// ListUsers of the pool, only `sub` and the attribute, from `token`.
    func listUsers(_ plan: Plan, options: Options, from token: String?) -> ListUsersPages {
        plan.client.listUsers(
            poolID: plan.pool.id.rawValue, attributesToGet: ["sub", plan.attribute], limit: options.pageSize, startingAt: token)
    }

    /// The next page, or nil after the last. When Cognito refuses a resumed run's saved token (it
    /// no longer knows it), the pool is read again from its first page: the users the run changed
    /// or cleared stay counted, and are found `alreadyCounted`; the page counts start again.
    func nextPage(
        _ listing: inout Listing, plan: Plan, run: UUID?, options: Options, summary: inout StampSummary
    ) async throws -> ListUsersPage? {
        guard !listing.done else { return nil }
        let page: ListUsersPage?
        do {
            page = try await listing.pages.next()
        } catch let error as CognitoError where listing.fromSavedToken && error.rejectsPaginationToken {
            logger.warning(
                "Cognito refused the saved ListUsers token; reading the pool again from its first page",
                metadata: ["pool": "\(plan.pool.id)"])
            summary.warnings.append("Cognito no longer took the saved ListUsers token: the pool was read again from its first page")
            if let run { try await store.restartListing(run: run) }
            summary.counts = StampCounts(
                seen: summary.counts.changed + summary.counts.cleared, changed: summary.counts.changed, cleared: summary.counts.cleared)
            summary.pages = 0
            listing = Listing(pages: listUsers(plan, options: options, from: nil).makeAsyncIterator(), fromSavedToken: false)
            page = try await listing.pages.next()
        }
        listing.fromSavedToken = false
        if page?.nextPageToken == nil { listing.done = true }
        return page
    }

    /// The map's answer for the page in one query, and ``StampDecision`` for each user. A dry run
    /// counts the users it would write or clear instead.
    func decide(_ page: ListUsersPage, plan: Plan, run: UUID?) async throws -> DecidedPage {
        let subs = page.Users.map { $0.attribute("sub").flatMap(CognitoSub.canonical) }
        let facts = try await store.facts(pool: plan.pool.id, subs: subs.compactMap { $0 }, run: run)
        var decided = DecidedPage(nextToken: page.nextPageToken, users: page.Users.count)
        for (user, sub) in zip(page.Users, subs) {
            let current = user.attribute(plan.attribute)
            let decision = StampDecision.decide(
                enabled: user.Enabled, current: current, fact: sub.flatMap { facts.mapped[$0] },
                clearedByRun: sub.map { facts.clearedByRun.contains($0) } ?? false, keepUnmapped: plan.linkingCampaign != nil)
            switch decision {
            case .unmapped: decided.counts.unmapped += 1
            case .inactive: decided.counts.inactive += 1
            case .alreadyRight: decided.counts.skipped += 1
            case .alreadyCounted: continue
            case .change(let person):
                guard run != nil else {
                    decided.counts.wouldChange += 1
                    break
                }
                // A fact was found by this sub, so there is one.
                guard let sub else {
                    decided.counts.unmapped += 1
                    break
                }
                decided.writes.append(StampWrite(username: user.Username, sub: sub, action: .stamp(person: person), previous: current))
                continue
            case .clear(let reason, let person):
                // Without a sub nothing names the user in the map or the audit trail: left alone,
                // in a dry run as in a real one. (ListUsers always answers it.)
                guard let sub else {
                    decided.counts.unmapped += 1
                    break
                }
                guard run != nil else {
                    decided.counts.wouldClear += 1
                    break
                }
                decided.writes.append(
                    StampWrite(username: user.Username, sub: sub, action: .clear(reason: reason, person: person), previous: current))
                continue
            }
            decided.counts.seen += 1
        }
        return decided
    }

    /// Counts a write that came back into its page (a user changed or cleared into the summary at
    /// once: its event and count are already saved).
    static func settle(_ result: WriteResult, window: inout StampWindow, summary: inout StampSummary) {
        switch result.outcome {
        case .changed:
            summary.counts.seen += 1
            summary.counts.changed += 1
            window.returned(to: result.sequence, adding: StampCounts())
        case .cleared:
            summary.counts.seen += 1
            summary.counts.cleared += 1
            window.returned(to: result.sequence, adding: StampCounts())
        case .gone:
            window.returned(to: result.sequence, adding: StampCounts(seen: 1, gone: 1))
        case .failed(let failure):
            window.returned(to: result.sequence, adding: StampCounts(seen: 1, failed: 1), failure: failure)
        }
    }

    /// Saves the pages now fully handled, oldest first: their counts and the token after each.
    func commitFinished(_ window: inout StampWindow, run: UUID?, summary: inout StampSummary, progress: ProgressReporter?) async throws {
        for page in window.takeFinished() {
            if let run { try await store.commitPage(run: run, nextToken: page.nextToken, counts: page.counts) }
            summary.counts.add(page.counts)
            summary.pages += 1
            for failure in page.failures { summary.listFailure(failure) }
            let counts = summary.counts
            let done =
                summary.dryRun
                ? "would change \(counts.wouldChange), would clear \(counts.wouldClear)"
                : "changed \(counts.changed), cleared \(counts.cleared)"
            progress?.update(adding: page.users, detail: "\(done), skipped \(counts.skipped), unmapped \(counts.unmapped)")
        }
    }
}
