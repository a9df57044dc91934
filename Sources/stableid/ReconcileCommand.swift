public import ArgumentParser
import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Logging
public import Reconciliation
import Support
import UserMigration

/// `stableid reconcile`: one reconciliation run, built for cron (DESIGN §6).
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract:
            "Find unmigrated (or migrated elsewhere), unmapped, orphaned, duplicate, conflicting and stale users (one run, for cron).",
        discussion: """
            Snapshots every pool of the campaign (or the --pool set): live ListUsers at the quota, or
            --file POOL=PATH (list-users JSON or CSV). Findings persist across runs; a run that no
            longer sees one resolves it. One run per campaign / pool set at a time.
            A live run that fails while reading keeps what it read for 24 h: --resume RUN_ID continues
            it (pools already read are not read again, the others go on from the page they stopped at).
            Exit 0 ran, 1 a --fail-on kind is open, 2 usage, 3 runtime failure (or another run holds the lock).
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The campaign (id or name) whose source and target pools to reconcile.")
    var campaign: String?

    @Option(name: .customLong("pool"), help: "A registered pool to reconcile without a campaign; repeat for several.")
    var pools: [String] = []

    @Option(name: .customLong("file"), help: "POOL=PATH: read this pool's users from a list-users JSON or CSV file; repeatable.")
    var files: [String] = []

    @Option(help: "json or csv for every --file (default: from each file name).")
    var fileFormat: UserFileReader.Format?

    @Option(help: "The pool attribute holding the stable ID, for runs without a campaign (e.g. custom:stable_id).")
    var stableIDAttribute: String?

    @Option(
        help: ArgumentHelp(
            "Continue the live run RUN_ID that failed while reading (within 24 h of its start).",
            discussion: """
                The scope is the run's own: --campaign / --pool / --stable-id-attribute may be left out, and \
                when given must match it. Not with --file (a file run is simply run again). The other \
                options (--fix, --fail-on, --metrics-file, --format, --wait) apply as to a new run.
                """,
            valueName: "RUN_ID"
        )
    )
    var resume: String?

    @Flag(help: "Wait for a running reconciliation or import of these pools instead of exiting 3.")
    var wait = false

    @Option(parsing: .upToNextOption, help: "Exit 1 when any finding of these kinds is open after the run.")
    var failOn: [FindingKind] = []

    @Option(parsing: .upToNextOption, help: "Fix these kinds where it is safe without a person: stale, orphaned, unmapped.")
    var fix: [FindingKind] = []

    @Flag(help: "With --fix: report what would be fixed, change nothing.")
    var dryRun = false

    @Flag(help: "With --fix: apply the fixes (each an audited change).")
    var apply = false

    @Option(help: "Write the run's counts here in the Prometheus textfile-collector format (written atomically).")
    var metricsFile: String?

    @Option(help: "table, json or csv.")
    var format: OutputFormat = .table

    func validate() throws {
        if resume != nil {
            guard files.isEmpty else {
                throw ValidationError("--resume continues a live run and takes no --file (a run from files is simply run again)")
            }
            guard campaign == nil || pools.isEmpty else { throw ValidationError("give either --campaign or --pool, not both") }
        } else {
            guard (campaign == nil) != pools.isEmpty else {
                throw ValidationError("give either --campaign or at least one --pool")
            }
        }
        if !fix.isEmpty, dryRun == apply { throw ValidationError("--fix needs exactly one of --dry-run or --apply") }
        if fix.isEmpty, dryRun || apply { throw ValidationError("--dry-run and --apply go with --fix") }
        if format == .ndjson { throw ValidationError("--format is table, json or csv") }
    }

    func run() async throws {
        try await database.withDatabase(maxConnections: 3, label: "stableid.reconcile") { db, logger in
            let resumeID = try resumeRunID()
            var scope = try await resolveScope(db, resuming: resumeID)
            let filesByPool = try parseFiles(in: scope)
            // A live run reads the target pool's facts again (what `--fix unmapped` and the triggers
            // trust depends on them); a file run may be offline and keeps the facts last read.
            if let campaignID = scope.campaignID, filesByPool.isEmpty {
                scope.trust = try await Self.refreshTargetFacts(campaign: campaignID, database: db, logger: logger)
            }
            let fixRequest = try parseFixRequest()
            let run = try await startRun(db, scope: scope, resuming: resumeID, live: filesByPool.isEmpty, logger: logger)
            try await stagePools(of: scope, into: run, files: filesByPool, database: db, logger: logger)
            try await finishAndReport(run, fixing: fixRequest, scope: scope)
        }
    }

    /// `--resume` as a run id.
    private func resumeRunID() throws -> UUID? {
        guard let resume else { return nil }
        guard let id = UUID(uuidString: resume) else { throw CLIFailure.usage("--resume takes a run id (a UUID), got '\(resume)'") }
        return id
    }

    /// The pools (and stable-ID attribute) of this run: a resumed run's own when no scope is
    /// given, else the campaign's or the `--pool` set.
    private func resolveScope(_ db: Database, resuming resumeID: UUID?) async throws -> ReconcileScope {
        do {
            if let resumeID, campaign == nil, pools.isEmpty {
                let scope = try await ReconciliationRun.recordedScope(database: db, runID: resumeID)
                if let stableIDAttribute, stableIDAttribute != scope.stableIDAttribute {
                    let recorded = scope.stableIDAttribute ?? "no attribute"
                    throw CLIFailure.usage("run \(resume ?? "") read the stable ID from \(recorded), not \(stableIDAttribute)")
                }
                return scope
            }
            return try await newScope(db)
        } catch let error as ReconciliationError {
            throw Self.explain(error)
        }
    }

    /// `--file POOL=PATH` by pool: each names a pool of the scope, once.
    private func parseFiles(in scope: ReconcileScope) throws -> [PoolID: String] {
        var filesByPool: [PoolID: String] = [:]
        for entry in files {
            guard let equals = entry.firstIndex(of: "="), let pool = PoolID(String(entry[..<equals])),
                !entry[entry.index(after: equals)...].isEmpty
            else { throw CLIFailure.usage("--file takes POOL=PATH, got '\(entry)'") }
            guard scope.pools.contains(pool) else { throw CLIFailure.usage("--file names \(pool), which is not reconciled here") }
            guard filesByPool[pool] == nil else { throw CLIFailure.usage("--file names \(pool) twice") }
            filesByPool[pool] = String(entry[entry.index(after: equals)...])
        }
        return filesByPool
    }

    /// `--fix` with `--dry-run` or `--apply`; nil without `--fix`.
    private func parseFixRequest() throws -> FixRequest? {
        do {
            return fix.isEmpty ? nil : try FixRequest(kinds: Set(fix), apply: apply)
        } catch {
            throw CLIFailure.usage("\(error)")
        }
    }

    /// Takes the scope's run lock (waiting with `--wait`) and starts a run, or resumes `resumeID`.
    private func startRun(
        _ db: Database, scope: ReconcileScope, resuming resumeID: UUID?, live: Bool, logger: Logger
    ) async throws -> ReconciliationRun {
        let locking: ReconcileLockPolicy = wait ? .wait(timeout: nil) : .failFast
        do {
            if let resumeID {
                return try await ReconciliationRun.resume(
                    database: db, runID: resumeID, scope: scope, locking: locking, attribution: cliAttribution, logger: logger
                )
            }
            return try await ReconciliationRun.start(
                database: db, scope: scope, source: live ? .live : .file, locking: locking,
                attribution: cliAttribution, logger: logger
            )
        } catch let error as ReconciliationError {
            throw Self.explain(error)
        }
    }

    /// Snapshots every pool of the scope into the run. A failure abandons the run; when the run is
    /// kept for `--resume`, the failure (same exit code) says how to go on.
    private func stagePools(
        of scope: ReconcileScope, into run: ReconciliationRun, files filesByPool: [PoolID: String], database db: Database,
        logger: Logger
    ) async throws {
        let progress = ProgressReporter(logger: logger, message: "reconcile progress", noun: "scanned")
        do {
            let sources = try await userSources(of: scope, files: filesByPool, database: db)
            // Files are parsed concurrently (parsing is the costly part, one core per file); live
            // pools are read one after the other, so together they stay under the account's
            // ListUsers quota.
            let files = sources.filter { if case .file = $0.source { return true } else { return false } }
            let live = sources.filter { if case .pool = $0.source { return true } else { return false } }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (pool, source) in files {
                    group.addTask {
                        do {
                            try await run.stage(pool: pool, from: source, progress: progress)
                        } catch {
                            throw ImportCommand.explain(error, pool: pool)
                        }
                    }
                }
                group.addTask {
                    for (pool, source) in live {
                        do {
                            try await run.stage(pool: pool, from: source, progress: progress)
                        } catch {
                            throw ImportCommand.explain(error, pool: pool)
                        }
                    }
                }
                try await group.waitForAll()
            }
        } catch {
            progress.finish()
            let kept = await run.abandon(reason: "reading the pools failed")
            guard kept else { throw error }
            // Same exit code as the failure itself; the message says how to go on.
            let failure = CLIFailure(error) ?? .runtime("\(error)")
            throw CLIFailure(message: failure.message + "\n" + ReconciliationRun.resumeHint(for: run.id), exitCode: failure.exitCode)
        }
        progress.finish()
    }

    /// Each pool's source: its `--file`, else the pool itself through its registered access.
    private func userSources(
        of scope: ReconcileScope, files filesByPool: [PoolID: String], database db: Database
    ) async throws -> [(pool: PoolID, source: UserSource)] {
        let registered = PoolStore(database: db)
        let clients = PoolClients()
        var sources: [(pool: PoolID, source: UserSource)] = []
        for pool in scope.pools {
            if let path = filesByPool[pool] {
                sources.append((pool, .file(path: path, format: fileFormat)))
            } else {
                guard let registration = try await registered.pool(pool) else {
                    throw CLIFailure.usage("pool \(pool) is not registered")
                }
                sources.append((pool, .pool(pool, client: try clients.client(for: registration))))
            }
        }
        return sources
    }

    /// Classifies (and fixes), then writes the metrics file and the report; exit 1 when a
    /// `--fail-on` kind is open.
    private func finishAndReport(_ run: ReconciliationRun, fixing fixRequest: FixRequest?, scope: ReconcileScope) async throws {
        let report: ReconcileReport
        do {
            report = try await run.finish(fixing: fixRequest)
        } catch let error as ReconciliationError {
            throw Self.explain(error)
        }
        if let metricsFile {
            try Self.writeAtomically(ReconcileMetrics.textfile(for: report, labels: ["scope": scope.key]), to: metricsFile)
        }
        try printReport(report)
        if !failOn.isEmpty, report.open(of: Set(failOn)) > 0 { throw ExitCode(1) }
    }

    /// Reads the campaign's target facts, records them (a change is an event) and answers the
    /// trust they give.
    static func refreshTargetFacts(campaign id: UUID, database db: Database, logger: Logger) async throws -> TriggerLinkRules.Trust {
        let store = CampaignStore(database: db)
        guard let campaign = try await store.campaign(id.uuidString.lowercased()),
            let target = try await PoolStore(database: db).pool(campaign.target)
        else { throw CLIFailure.usage("campaign \(id.uuidString.lowercased()) or its target pool no longer exists") }
        let facts = await CampaignCommand.readFacts(of: target, attribute: campaign.stableIDAttribute)
        let changed = try await store.recordTargetFacts(facts, campaign: id, attribution: cliAttribution).run(on: db)
        if changed {
            logger.warning(
                "the target pool's facts changed",
                metadata: [
                    "campaign": "\(campaign.name)", "self_sign_up": "\(facts.selfSignUp.map { "\($0)" } ?? "unknown")",
                    "attribute_writers": "\(facts.attributeWriters?.joined(separator: " ") ?? "unknown")",
                ])
        }
        if let problem = facts.problem {
            logger.warning("the target pool could not be fully read; assuming the unsafe case", metadata: ["problem": "\(problem)"])
        }
        return TriggerLinkRules.Trust(facts)
    }

    /// A new run's scope: the campaign's pools, or the `--pool` set.
    private func newScope(_ db: Database) async throws -> ReconcileScope {
        if let campaign {
            guard let found = try await CampaignStore(database: db).campaign(campaign) else {
                throw CLIFailure.usage("no campaign '\(campaign)'")
            }
            return ReconcileScope(campaign: found)
        }
        var ids: [PoolID] = []
        for text in pools {
            guard let pool = PoolID(text) else { throw CLIFailure.usage("'\(text)' is not a Cognito user pool id (region_suffix)") }
            ids.append(pool)
        }
        do {
            return try ReconcileScope(pools: ids, stableIDAttribute: stableIDAttribute)
        } catch {
            throw CLIFailure.usage("\(error)")
        }
    }

    /// Another run holding the lock is a runtime condition cron retries (3); a bad scope or pool, or
    /// a run that cannot be resumed, is usage (2).
    static func explain(_ error: ReconciliationError) -> CLIFailure {
        switch error {
        case .busy, .lockLost: return CLIFailure.runtime("\(error)")
        default: return CLIFailure.usage("\(error)")
        }
    }

    /// The textfile collector reads whatever is in the file: a reader must never see half of it.
    static func writeAtomically(_ text: String, to path: String) throws {
        let temporary = path + ".tmp.\(getpid())"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw CLIFailure.runtime("cannot write \(path)") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw CLIFailure.runtime("cannot write the metrics file \(path): \(error)")
        }
    }

    private func printReport(_ report: ReconcileReport) throws {
        switch format {
        case .json, .ndjson:
            print(String(decoding: try JSONEncoder.sortedKeys().encode(report), as: UTF8.self))
        case .table, .csv:
            let rows = FindingKind.allCases.map { kind in
                [
                    "kind": kind.rawValue, "open": "\(report.counts[kind])", "new": "\(report.new[kind])",
                    "resolved": "\(report.resolved[kind])",
                ]
            }
            printRows(rows, columns: ["kind", "open", "new", "resolved"], format: format == .csv ? .csv : .table)
            if format == .table {
                let scanned = report.run.scanned.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
                print("run \(report.run.id.uuidString.lowercased()): scanned \(scanned)")
                if let fixes = report.fixes {
                    print("fixes\(fixes.dryRun ? " (dry run, nothing changed)" : ""): \(fixes.fixed) fixed")
                }
                for warning in report.warnings { print("warning: \(warning)") }
            }
        }
    }
}

extension FindingKind: ExpressibleByArgument {}
extension FindingState: ExpressibleByArgument {}
