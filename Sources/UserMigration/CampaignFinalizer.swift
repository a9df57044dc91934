public import Cognito
public import CognitoIngest
public import Foundation
public import IdentityMap
public import Logging
import Postgres

/// `stableid campaign finalize`: moves the users a campaign still has to move — the `unmigrated`
/// findings of its latest completed reconciliation, checked against the map as it is now —
/// by invitation (`AdminCreateUser`, Cognito sends a temporary password), without a password
/// (`passwordless`: one-time codes or passkeys), or as user-import CSV files. People with an open
/// `duplicate` or `conflict` finding are held back and listed, for a person to decide.
///
/// Invite and passwordless runs are resumable: each person's `finalize_users` row is written
/// `creating` before Cognito is asked, and the new target identity is linked in the same
/// transaction that marks it `created` (``FinalizeStore/complete(_:campaign:identity:invited:attribution:)``).
/// A run killed in between leaves the row `creating`; `--resume` asks the target pool for that
/// username first and adopts the user it finds (made by that run: the stable-ID attribute names
/// the person), so nobody is created twice. One run per campaign at a time (a session advisory
/// lock, ``lockName(_:)``): a second is refused, so `creating` rows are always a dead run's.
public struct CampaignFinalizer: Sendable {
    public let database: Database
    let clients: PoolClients
    let logger: Logger
    let attribution: Attribution
    let store: FinalizeStore

    public init(database: Database, clients: PoolClients, logger: Logger, attribution: Attribution) {
        self.database = database
        self.clients = clients
        self.logger = logger
        self.attribution = attribution
        self.store = FinalizeStore(database: database)
    }

    public struct Options: Sendable {
        public var mode: FinalizeMode
        /// Report what would be created (or exported, or resent); write nothing anywhere.
        public var dryRun = false
        /// At most this many users created (exported, resent) by this run.
        public var limit: Int?
        /// Settle the rows an interrupted run left `creating` first (invite, passwordless).
        public var resume = false
        /// Invite: send invited users who never signed in a new temporary password.
        public var resend = false
        /// Resend: only invitations sent (or last resent) at least this long ago. Nil: the target's
        /// `TemporaryPasswordValidityDays` (7 days when it cannot be read): a password that still
        /// works is not replaced.
        public var resendOlderThan: TimeInterval?
        /// Passwordless: the operator vouches that the target lets users sign in without a password
        /// when DescribeUserPool does not say (no `Policies.SignInPolicy`, or the pool unreadable).
        /// A pool that says it allows only `PASSWORD` is refused all the same.
        public var assumePasswordlessPool = false
        /// Users handled at once: enough to keep AdminCreateUser at its quota while each user
        /// waits on Cognito and the database.
        public var workers = 32
        /// CSV: where the files go.
        public var outDirectory: URL?
        /// CSV: a source pool's users from a list-users file instead of ListUsers.
        public var files: [PoolID: String] = [:]
        public var fileFormat: UserFileReader.Format?
        /// CSV from a file: at most this many of a pool's unmigrated users held in memory at once
        /// (``CSVDecisionTable``); a larger set is read in slices, the file once per slice.
        public var csvTableCapacity = defaultCSVTableCapacity
        public static let defaultCSVTableCapacity = 2_000_000

        public init(mode: FinalizeMode) {
            self.mode = mode
        }
    }

    /// A reconciliation older than this is warned about: the unmigrated set may have moved since.
    public static let staleReconciliation: TimeInterval = 24 * 3600

    /// What a run works from, read once at its start.
    struct Plan: Sendable {
        var campaign: Campaign
        var stableIDAttribute: String
        var target: Pool
        var sources: [PoolID: Pool]
        var reconciliation: FinalizeStore.ReconcileRun
        var holds: [UUID: FinalizeHold]
        /// The target's `UsernameAttributes` (`email`, `phone_number`); empty for username pools.
        var usernameAttributes: [String]
        /// The target's schema attribute names, when DescribeUserPool answered.
        var schemaAttributeNames: [String]?
        /// Whether anyone can sign up in the target (DescribeUserPool now, else the campaign's
        /// recorded facts). Nil: unknown, which counts as yes.
        var selfSignUp: Bool?
        /// Passwordless: the target's allowed first factors; nil when the operator vouched for a
        /// pool that does not say (``Options/assumePasswordlessPool``).
        var allowedFirstFactors: Set<String>?
        /// The target's `TemporaryPasswordValidityDays`, when DescribeUserPool says.
        var temporaryPasswordDays: Int?
    }

    /// What DescribeUserPool says of the target, as much as finalize needs.
    struct TargetDescription: Sendable {
        var usernameAttributes: [String]
        var schemaAttributeNames: [String]?
        var selfSignUp: Bool?
        var allowedFirstFactors: [String]?
        var temporaryPasswordDays: Int?
    }

    /// The advisory lock a finalize of `campaign` holds for its whole run.
    public static func lockName(_ campaign: UUID) -> String { "stableid-finalize:" + campaign.uuidString.lowercased() }

    /// Runs finalize for the campaign `idOrName` and answers what it did. Throws for what stops a
    /// run (no reconciliation, an unreachable Cognito or database); per-user refusals are counted.
    public func run(campaign idOrName: String, options: Options, progress: ProgressReporter? = nil) async throws -> FinalizeSummary {
        let plan = try await prepare(idOrName, options: options)
        guard !options.dryRun else { return try await perform(plan, options: options, progress: progress) }
        let lock = try await lockCampaign(plan.campaign)
        do {
            let summary = try await perform(plan, options: options, progress: progress)
            await lock.unlock()
            return summary
        } catch {
            await lock.unlock()
            throw error
        }
    }

    /// The run itself, under the campaign's lock unless it is a dry run.
    func perform(_ plan: Plan, options: Options, progress: ProgressReporter?) async throws -> FinalizeSummary {
        var summary = FinalizeSummary(
            campaign: plan.campaign.id, mode: options.mode, resend: options.resend, dryRun: options.dryRun,
            reconciliationRun: plan.reconciliation.run, reconciledAt: plan.reconciliation.finishedAt
        )
        if Date().timeIntervalSince(plan.reconciliation.finishedAt) > Self.staleReconciliation {
            let hours = Int(Date().timeIntervalSince(plan.reconciliation.finishedAt) / 3600)
            summary.warnings.append(
                "the latest reconciliation of this campaign finished \(hours) h ago: users migrated since are checked against the map, "
                    + "but new duplicates are not known; consider stableid reconcile --campaign \(plan.campaign.name) first")
            logger.warning("stale reconciliation", metadata: ["campaign": "\(plan.campaign.id)", "run": "\(plan.reconciliation.run)"])
        }
        if options.mode == .passwordless, !options.resend { summary.warnings += Self.passwordlessWarnings(plan.allowedFirstFactors) }
        try await checkInterrupted(plan, options: options, into: &summary)
        switch options.mode {
        case .csv:
            try await export(plan, options: options, progress: progress, into: &summary)
        case .invite, .passwordless:
            try await enterFinalizing(plan, options: options)
            if options.resend {
                try await resend(plan, options: options, progress: progress, into: &summary)
            } else {
                try await createUsers(plan, options: options, progress: progress, into: &summary)
            }
            if !options.dryRun { try await recordCompletion(summary, plan: plan) }
        }
        return summary
    }

    /// One finalize of a campaign at a time: two would share the quota, and one could take the
    /// other's `creating` rows for an interrupted run's. Dry runs write nothing and need no lock.
    func lockCampaign(_ campaign: Campaign) async throws -> SessionAdvisoryLock {
        guard
            let lock = try await SessionAdvisoryLock.acquire(
                name: Self.lockName(campaign.id), configuration: database.primary.configuration, applicationName: "stableid-finalize")
        else {
            throw MigrationError.invalidCampaign(
                "another finalize of campaign \(campaign.name) is running: one run per campaign at a time; wait for it to end")
        }
        return lock
    }

    /// Moves the campaign to `finalizing` once a run is sure to go ahead (its options and, for
    /// CSV, its output directory checked).
    func enterFinalizing(_ plan: Plan, options: Options) async throws {
        guard !options.dryRun, plan.campaign.phase == .lazy else { return }
        _ = try await CampaignStore(database: database).setPhase(
            plan.campaign.id.uuidString.lowercased(), to: .finalizing, attribution: attribution
        ).run(on: database)
    }

    /// What the operator should know about the target's passwordless sign-in.
    static func passwordlessWarnings(_ factors: Set<String>?) -> [String] {
        guard let factors else {
            return [
                "--assume-passwordless-pool: the target pool does not say which first factors it allows; "
                    + "users created without a password can sign in only if it allows EMAIL_OTP, SMS_OTP or WEB_AUTHN"
            ]
        }
        guard !factors.contains("EMAIL_OTP"), !factors.contains("SMS_OTP") else { return [] }
        return [
            "the target pool allows passkeys but no one-time codes (EMAIL_OTP, SMS_OTP): a user created without a password "
                + "registers a passkey only after a first sign-in, which your application must give them through their verified "
                + "email or phone"
        ]
    }

    /// The campaign, its pools, its latest reconciliation, the holds and the target's sign-in
    /// attributes; refuses what cannot be finalized.
    func prepare(_ idOrName: String, options: Options) async throws -> Plan {
        guard let campaign = try await CampaignStore(database: database).campaign(idOrName) else {
            throw MigrationError.campaignNotFound(idOrName)
        }
        let name = campaign.name
        guard campaign.phase != .done else { throw MigrationError.invalidCampaign("campaign \(name) is done") }
        guard let attribute = campaign.stableIDAttribute else {
            throw MigrationError.invalidCampaign(
                "campaign \(name) has no stable-ID attribute: finalize writes it on every user it creates or exports, "
                    + "so that they link themselves and an interrupted run can recognise its own users")
        }
        guard let reconciliation = try await store.latestReconciliation(campaign: campaign.id) else {
            throw MigrationError.invalidCampaign(
                "campaign \(name) has no completed reconciliation: run stableid reconcile --campaign \(name) first")
        }
        let pools = PoolStore(database: database)
        guard let target = try await pools.pool(campaign.target) else { throw MigrationError.unknownPool(campaign.target.rawValue) }
        var sources: [PoolID: Pool] = [:]
        for source in campaign.sources {
            guard let pool = try await pools.pool(source.pool) else { throw MigrationError.unknownPool(source.pool.rawValue) }
            sources[source.pool] = pool
        }
        let description = try await describeTarget(target, campaign: campaign)
        if let schema = description.schemaAttributeNames, !schema.contains(attribute), !schema.contains("dev:" + attribute) {
            throw MigrationError.invalidCampaign("the target pool has no \(attribute) attribute: add it to the pool first")
        }
        var allowedFirstFactors: Set<String>?
        if options.mode == .passwordless, !options.resend {
            allowedFirstFactors = try FinalizeAccount.passwordlessSignIn(
                allowedFirstFactors: description.allowedFirstFactors, assumed: options.assumePasswordlessPool)
        }
        return Plan(
            campaign: campaign, stableIDAttribute: attribute, target: target, sources: sources, reconciliation: reconciliation,
            holds: try await store.holds(campaign: campaign.id), usernameAttributes: description.usernameAttributes,
            schemaAttributeNames: description.schemaAttributeNames, selfSignUp: description.selfSignUp,
            allowedFirstFactors: allowedFirstFactors, temporaryPasswordDays: description.temporaryPasswordDays
        )
    }

    /// The target as DescribeUserPool describes it. When the pool cannot be read, the campaign's
    /// recorded facts say whether it signs in by email and admits self sign-up; without them an
    /// account could get the wrong username, so the run stops.
    func describeTarget(_ target: Pool, campaign: Campaign) async throws -> TargetDescription {
        do {
            let description = try await clients.client(for: target).describeUserPool(poolID: target.id.rawValue)
            return TargetDescription(
                usernameAttributes: description.UsernameAttributes ?? [],
                schemaAttributeNames: description.SchemaAttributes.map { $0.compactMap(\.Name) },
                selfSignUp: description.AdminCreateUserConfig.map { !($0.AllowAdminCreateUserOnly ?? false) },
                allowedFirstFactors: description.Policies?.SignInPolicy?.AllowedFirstAuthFactors,
                temporaryPasswordDays: description.Policies?.PasswordPolicy?.TemporaryPasswordValidityDays
            )
        } catch let error as CognitoError {
            if case .configuration = error { throw error }
            let reason = error.type?.rawValue ?? "no answer"
            guard let byEmail = campaign.targetFacts.signInByEmail else {
                throw MigrationError.invalidCampaign("cannot read the target pool (\(reason)) and its sign-in attributes were never read")
            }
            logger.warning("DescribeUserPool failed; using the campaign's recorded facts", metadata: ["error": "\(reason)"])
            return TargetDescription(
                usernameAttributes: byEmail ? ["email"] : [], schemaAttributeNames: nil, selfSignUp: campaign.targetFacts.selfSignUp)
        }
    }

    /// The run's `campaign_finalize_completed` event.
    func recordCompletion(_ summary: FinalizeSummary, plan: Plan) async throws {
        let details = CampaignFinalizeCompletedDetails(
            campaign: plan.campaign.id, reconciliationRun: plan.reconciliation.run, mode: summary.mode, resend: summary.resend,
            created: summary.created, adopted: summary.adopted, resent: summary.resent, held: summary.heldCount,
            failed: summary.failedCount, skipped: summary.skippedTotal, limitReached: summary.limitReached
        )
        let attribution = self.attribution
        _ = try await database.primary.transaction { connection in
            try EventLog.append(EventDraft(details, pool: plan.campaign.target), attribution: attribution, on: connection)
        }
    }

    /// The Cognito client of a registered pool.
    func client(for pool: Pool) throws -> CognitoClient {
        try clients.client(for: pool)
    }
}
