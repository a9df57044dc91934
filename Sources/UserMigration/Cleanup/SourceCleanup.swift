public import CognitoIngest
public import Foundation
public import IdentityMap
public import Logging
import Postgres

/// `stableid campaign cleanup`: once people use their new accounts, their old source users are
/// disabled (`AdminDisableUser`) or deleted (`AdminDeleteUser`), paced at Cognito's
/// `UserResourceUpdate` quota, each an `identity_status_changed` event naming the campaign. The
/// identity stays in the map with its new status, so the old sub still resolves to its person and
/// its history stays readable.
///
/// A source user is cleaned only when its person has an active identity in the target that has
/// signed in there (post-authentication or a token: `identity_sign_ins`) at least `--older-than`
/// ago, and never when the person has an open `duplicate` or `conflict` finding, when the source
/// user is outside the campaign's subset (judged now, from AdminGetUser), or when it changed after
/// its target identity was linked (`UserLastModifiedDate`: a person looks first). `--apply` needs a
/// completed reconciliation of the campaign from the last day (``maximumReconciliationAge``): its
/// findings are what holds people back. Right before each user's Cognito call the same query reads
/// the user again on the primary, and a user who no longer qualifies — a finding opened during the
/// run, an unlink, a merge — is skipped and listed (``CleanupSummary/skippedOnRecheck``).
///
/// Resumable: each user's `cleanup_users` row is written `cleaning` before the Cognito call, and
/// `done` with the identity's new status after it, in one transaction. A run killed in between
/// leaves the row `cleaning`; the next run refuses until `--resume`, which asks the pool first
/// (AdminGetUser): a user already disabled (deleted) is recorded as such, one the call never
/// reached is taken up again by the pass, so nobody is touched twice. One run per campaign at a
/// time (a session advisory lock, ``lockName(_:)``).
public struct SourceCleanup: Sendable {
    public let database: Database
    let clients: PoolClients
    let logger: Logger
    let attribution: Attribution
    let store: CleanupStore

    public init(database: Database, clients: PoolClients, logger: Logger, attribution: Attribution) {
        self.database = database
        self.clients = clients
        self.logger = logger
        self.attribution = attribution
        self.store = CleanupStore(database: database)
    }

    public struct Options: Sendable {
        public var mode: CleanupMode
        /// List what would be cleaned; write nothing, change nothing in Cognito.
        public var dryRun: Bool
        /// The person's first sign-in in the target at least this long ago (seconds).
        public var olderThan: TimeInterval = SourceCleanup.defaultOlderThan
        /// At most this many users cleaned (listed) by this run.
        public var limit: Int?
        /// Settle the rows an interrupted run left `cleaning` first.
        public var resume = false
        /// Users handled at once: enough to keep the quota busy while each waits on Cognito.
        public var workers = 16

        public init(mode: CleanupMode, dryRun: Bool) {
            self.mode = mode
            self.dryRun = dryRun
        }
    }

    public static let defaultOlderThan: TimeInterval = 30 * 86_400
    /// `--apply` refuses a campaign whose latest completed reconciliation is older than this: new
    /// duplicates and conflicts — the people it must not touch — would not be known.
    public static let maximumReconciliationAge: TimeInterval = 24 * 3_600
    /// The reason in each user's `identity_status_changed`.
    static let reason = "campaign cleanup"
    static let pageSize = 500

    /// The advisory lock a clean-up of `campaign` holds for its whole run.
    public static func lockName(_ campaign: UUID) -> String { "stableid-cleanup:" + campaign.uuidString.lowercased() }

    /// What a run works from, read once at its start. Who is held back is not in it: each page of
    /// candidates reads the holds with the users, and each user is read again right before its
    /// Cognito call (``CleanupRules/recheck(_:planned:source:mode:inSubset:)``).
    struct Plan: Sendable {
        var campaign: Campaign
        var sources: [PoolID: Pool]
        var reconciliation: FinalizeStore.ReconcileRun?
    }

    /// Runs the clean-up of the campaign `idOrName` and answers what it did. Throws for what stops
    /// a run (a refusal, an unreachable Cognito or database); per-user outcomes are counted.
    public func run(campaign idOrName: String, options: Options, progress: ProgressReporter? = nil) async throws -> CleanupSummary {
        let plan = try await prepare(idOrName, options: options)
        guard !options.dryRun else { return try await perform(plan, options: options, progress: progress) }
        guard
            let lock = try await SessionAdvisoryLock.acquire(
                name: Self.lockName(plan.campaign.id), configuration: database.primary.configuration, applicationName: "stableid-cleanup")
        else {
            throw MigrationError.invalidCampaign(
                "another cleanup of campaign \(plan.campaign.name) is running: one run per campaign at a time; wait for it to end")
        }
        do {
            let summary = try await perform(plan, options: options, progress: progress)
            await lock.unlock()
            return summary
        } catch {
            await lock.unlock()
            throw error
        }
    }

    /// The campaign, its pools and its latest reconciliation; refuses `--apply` without a recent
    /// reconciliation.
    func prepare(_ idOrName: String, options: Options) async throws -> Plan {
        guard let campaign = try await CampaignStore(database: database).campaign(idOrName) else {
            throw MigrationError.campaignNotFound(idOrName)
        }
        let finalizeStore = FinalizeStore(database: database)
        let reconciliation = try await finalizeStore.latestReconciliation(campaign: campaign.id)
        if !options.dryRun {
            guard let reconciliation else {
                throw MigrationError.invalidCampaign(
                    "campaign \(campaign.name) has no completed reconciliation: run stableid reconcile --campaign \(campaign.name) first")
            }
            let age = Date().timeIntervalSince(reconciliation.finishedAt)
            guard age <= Self.maximumReconciliationAge else {
                throw MigrationError.invalidCampaign(
                    "the latest reconciliation of campaign \(campaign.name) finished \(Int(age / 3_600)) h ago: --apply needs one "
                        + "from the last 24 h (new duplicates and conflicts must be known); run stableid reconcile --campaign "
                        + "\(campaign.name) first")
            }
        }
        let pools = PoolStore(database: database)
        var sources: [PoolID: Pool] = [:]
        for source in campaign.sources {
            guard let pool = try await pools.pool(source.pool) else { throw MigrationError.unknownPool(source.pool.rawValue) }
            sources[source.pool] = pool
        }
        return Plan(campaign: campaign, sources: sources, reconciliation: reconciliation)
    }

    /// The run itself, under the campaign's lock unless it is a dry run.
    func perform(_ plan: Plan, options: Options, progress: ProgressReporter?) async throws -> CleanupSummary {
        var summary = CleanupSummary(campaign: plan.campaign.id, mode: options.mode, dryRun: options.dryRun, olderThan: options.olderThan)
        summary.reconciliationRun = plan.reconciliation?.run
        summary.reconciledAt = plan.reconciliation?.finishedAt
        if let reconciliation = plan.reconciliation {
            let age = Date().timeIntervalSince(reconciliation.finishedAt)
            if age > Self.maximumReconciliationAge {
                summary.warnings.append(
                    "the latest reconciliation of this campaign finished \(Int(age / 3_600)) h ago: --apply will refuse until "
                        + "stableid reconcile --campaign \(plan.campaign.name) has run")
            }
        } else {
            summary.warnings.append(
                "campaign \(plan.campaign.name) has no completed reconciliation: nobody is held back for a duplicate or conflict, "
                    + "and --apply will refuse")
        }
        let interrupted = try await store.interruptedCount(campaign: plan.campaign.id)
        if interrupted > 0, !options.resume {
            guard options.dryRun else {
                throw MigrationError.invalidCampaign(
                    "\(interrupted) users were being cleaned when an earlier cleanup of this campaign stopped: run again with --resume")
            }
            summary.warnings.append("\(interrupted) users were being cleaned when an earlier run stopped: --resume settles them first")
        }
        let budget = FinalizeBudget(options.limit)
        if options.resume, !options.dryRun, interrupted > 0 {
            summary = try await settleInterrupted(plan, options: options, progress: progress, into: summary)
        }
        summary = try await cleanUsers(plan, options: options, budget: budget, progress: progress, into: summary)
        if !options.dryRun, let reconciliation = plan.reconciliation {
            try await recordCompletion(summary, reconciliation: reconciliation.run)
        }
        return summary
    }

    /// The run's `campaign_cleanup_completed` event.
    func recordCompletion(_ summary: CleanupSummary, reconciliation: UUID) async throws {
        let details = CampaignCleanupCompletedDetails(
            campaign: summary.campaign, reconciliationRun: reconciliation, mode: summary.mode, olderThan: summary.olderThan,
            cleaned: summary.cleaned, settled: summary.settled, skipped: summary.skipped, failed: summary.failedCount,
            limitReached: summary.limitReached
        )
        let attribution = self.attribution
        _ = try await database.primary.transaction { connection in
            try EventLog.append(EventDraft(details), attribution: attribution, on: connection)
        }
    }
}
