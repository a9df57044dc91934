import Cognito
public import CognitoIngest
public import Foundation
public import IdentityMap
public import Logging
import Postgres

/// `stableid stamp`: writes each mapped user's stable ID into a custom attribute of a pool
/// (AdminUpdateUserAttributes), so that ID tokens carry it natively, with no lookup and no
/// trigger; and removes the attribute (AdminDeleteUserAttributes) from users it must not name a
/// person for — a user the map does not hold or unlinked, a deleted person's, an inactive user's
/// value that is not its person's — since a backend trusting the claim would hand them that
/// person's data (``StampDecision``).
///
/// The run reads the pool with ListUsers (60 users a page, only `sub` and the attribute), asks the
/// map for the whole page in one query (sub → the survivor of its user) and writes only the users
/// whose attribute is not already their person's ID (``StampDecision``), many at once so that
/// AdminUpdateUserAttributes and AdminDeleteUserAttributes run at their shared quota (25/s by
/// default; the client's `RatePacer` spaces the calls, and its retries absorb throttling).
/// ListUsers is 30 requests a second for 60 users each, so reading costs nothing next to writing:
/// AdminGetUser per user would spend a 120-a-second quota to learn what a page says for 60.
///
/// Refused before anything is written (``StampSafety``): an attribute that is not a mutable custom
/// `String` of the pool's schema, and any app client that can write it. One run per pool at a
/// time (a session advisory lock, ``lockName(_:)``).
///
/// Resumable (`stamp_runs`, sql/0023): once every user of a page and of the pages before it is
/// handled, the token of the next page is saved with the page's counts. Each user written is its
/// own `user_stamped` event, recorded after Cognito took the write, in one transaction with the
/// run's `changed`; each removal its own `stable_id_attribute_cleared` with the run's `cleared`.
/// A run killed between a write and its event leaves that user written and unrecorded (at most one
/// per worker): the resumed run finds the attribute right and counts it `skipped` (a removal:
/// `unmapped` or `inactive`), without an event — the value is what the map says, and stamping
/// changes nothing in the map. Users a resumed run finds written or cleared *and* recorded by
/// itself are not counted twice.
public struct PoolStamp: Sendable {
    public let database: Database
    let clients: PoolClients
    let logger: Logger
    let attribution: Attribution
    let store: StampStore

    public init(database: Database, clients: PoolClients, logger: Logger, attribution: Attribution) {
        self.database = database
        self.clients = clients
        self.logger = logger
        self.attribution = attribution
        self.store = StampStore(database: database)
    }

    public static let defaultAttribute = "custom:stable_id"

    public struct Options: Sendable {
        public var attribute = PoolStamp.defaultAttribute
        /// Read and count what would be written; write nothing to Cognito, record nothing.
        public var dryRun = false
        /// Continue the pool's interrupted run of the same attribute (``StampStore/begin(pool:attribute:resume:)``).
        public var resume = false
        /// At most this many users written by this invocation; the run then stops, resumable.
        public var limit: Int?
        /// Writes in flight: enough that the network's latency does not cap the rate.
        public var workers = 8
        /// Users per ListUsers page (Cognito's maximum, 60; smaller only for tests).
        public var pageSize = 60
        /// How often a run reads the pool's schema and app clients again (``StampSafety``): a run of
        /// a large pool takes hours, and an app client may be given write access meanwhile.
        public var safetyRecheck: Duration = .seconds(600)

        public init() {}
    }

    /// What a run works from, read once at its start.
    struct Plan: Sendable {
        var pool: Pool
        var attribute: String
        var client: CognitoClient
        /// The newest campaign into the pool, when it links new subs by this very attribute (its
        /// name): users the map does not hold keep their value, which is that campaign's link
        /// evidence (``StampDecision/decide(enabled:current:fact:clearedByRun:keepUnmapped:)``).
        var linkingCampaign: String? = nil
    }

    /// The advisory lock a stamp of `pool` holds for its whole run.
    public static func lockName(_ pool: PoolID) -> String { "stableid-stamp:" + pool.rawValue }

    /// Stamps pool `id` and answers what this invocation did (with the whole run's counts). Throws
    /// the refusals (``StampError``, an unregistered pool) before anything is written, and what
    /// stops a run (Cognito, PostgreSQL) — the run is then resumable.
    public func run(pool id: PoolID, options: Options, progress: ProgressReporter? = nil) async throws -> StampSummary {
        let plan = try await prepare(id, options: options)
        guard !options.dryRun else {
            var summary = StampSummary(run: nil, pool: id, attribute: options.attribute, dryRun: true)
            summary.warnings += Self.warnings(plan)
            summary = try await stampPages(plan, from: nil, run: nil, options: options, progress: progress, summary: summary)
            summary.state = summary.limitReached ? .stopped : .completed
            return summary
        }
        let lock = try await lockPool(id)
        do {
            let summary = try await perform(plan, options: options, progress: progress)
            await lock.unlock()
            return summary
        } catch {
            await lock.unlock()
            throw error
        }
    }

    /// The run under the pool's lock: start or resume it, stamp the pages left, record its end.
    func perform(_ plan: Plan, options: Options, progress: ProgressReporter?) async throws -> StampSummary {
        let start = try await store.begin(pool: plan.pool.id, attribute: plan.attribute, resume: options.resume)
        var summary = StampSummary(run: start.run, pool: plan.pool.id, attribute: plan.attribute, dryRun: false)
        summary.resumed = start.resumed
        summary.counts = start.counts
        summary.pages = start.pages
        summary.warnings += Self.warnings(plan)
        if let abandoned = start.abandoned {
            summary.warnings.append(
                "an unfinished stamp run of this pool (\(abandoned.uuidString.lowercased())) was abandoned; "
                    + "this run starts from the first page")
        }
        logger.info(
            "stamp started",
            metadata: [
                "pool": "\(plan.pool.id)", "run": "\(start.run.uuidString.lowercased())", "attribute": "\(plan.attribute)",
                "resumed": "\(start.resumed)", "pages_done": "\(start.pages)",
            ])
        do {
            if !start.listed {
                summary = try await stampPages(
                    plan, from: start.nextToken, run: start.run, options: options, progress: progress, summary: summary)
            }
        } catch {
            await recordFailure(error, run: start.run, pool: plan.pool.id, resumed: start.resumed)
            throw error
        }
        summary.state = summary.limitReached ? .stopped : .completed
        let totals = try await store.finish(
            run: start.run, pool: plan.pool.id, state: summary.state, resumed: start.resumed, attribution: attribution)
        summary.counts = totals.counts
        summary.pages = totals.pages
        return summary
    }

    /// What the operator should know of the plan before reading the counts.
    static func warnings(_ plan: Plan) -> [String] {
        guard let campaign = plan.linkingCampaign else { return [] }
        return [
            "pool \(plan.pool.id) is the target of campaign \(campaign), whose triggers link a new user to the person its "
                + "\(plan.attribute) names: users not in the map keep their value (counted unmapped); unlinked ones lose it"
        ]
    }

    /// One stamp of a pool at a time: two would share the quota and each other's pages.
    func lockPool(_ id: PoolID) async throws -> SessionAdvisoryLock {
        guard
            let lock = try await SessionAdvisoryLock.acquire(
                name: Self.lockName(id), configuration: database.primary.configuration, applicationName: "stableid-stamp")
        else { throw StampError.busy(pool: id.rawValue) }
        return lock
    }

    /// Marks the run `failed` with its `stamp_run_finished` event, as far as the database lets it
    /// (it may be what failed): a run left `running` is resumed all the same.
    func recordFailure(_ error: any Error, run: UUID, pool: PoolID, resumed: Bool) async {
        let code = Self.code(for: error)
        logger.error("stamp stopped", metadata: ["pool": "\(pool)", "run": "\(run.uuidString.lowercased())", "error": "\(code)"])
        do {
            try await store.finish(run: run, pool: pool, state: .failed, code: code, resumed: resumed, attribution: attribution)
        } catch {
            logger.warning("could not record the stopped stamp run", metadata: ["run": "\(run.uuidString.lowercased())"])
        }
    }

    /// A code for `stamp_runs.last_error` and the log: an AWS error type, or a kind of failure —
    /// never a message, which may quote values.
    static func code(for error: any Error) -> String {
        switch error {
        case let error as CognitoError:
            switch error {
            case .service(let type, _, _):
                let name = String(type.rawValue.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }.prefix(80))
                return name.isEmpty ? "cognito_error" : name
            case .transport: return "cognito_unreachable"
            case .deadlineExceeded: return "cognito_deadline"
            case .malformedResponse: return "cognito_malformed"
            case .configuration: return "cognito_configuration"
            }
        case is StampError: return "refused"
        case is PostgresError: return "database"
        case is CancellationError: return "cancelled"
        default: return "error"
        }
    }
}
