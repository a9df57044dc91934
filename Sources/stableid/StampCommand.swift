import ArgumentParser
import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Logging
import Support
import UserMigration

/// `stableid stamp --pool P`: each mapped user's stable ID into a custom attribute of the pool, so
/// that ID tokens carry it (docs/OPERATIONS.md, Stamping the stable ID into a pool).
struct StampCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stamp",
        abstract: "Write each mapped user's stable ID into a custom attribute of a pool, so that ID tokens carry it.",
        discussion: """
            Reads the pool with ListUsers and writes, with AdminUpdateUserAttributes, the stable ID of each user's person (the
            survivor of any merge) into --attribute wherever it is not already there. Removes the attribute, with
            AdminDeleteUserAttributes, from users that hold a value but have no active mapping (not in the map, unlinked, their
            person deleted) and from disabled ones whose value is not their person's: their tokens would carry someone else's
            stable ID (in the target pool of a campaign that links new users by --attribute, users not in the map keep theirs).
            Disabled users are never written; users whose attribute is right are left alone and counted. Refused (exit 2)
            unless the attribute is a mutable custom String attribute of the pool and no app client can write it: a client
            whose WriteAttributes is unset can write every attribute. Paced at the UserResourceUpdate quota (--rate, default
            25/s; throttling is retried). One run per pool at a time; a run that was interrupted (killed, failed, or stopped at
            --limit) continues with --resume. A second run changes nothing. Each user written is a user_stamped event, each
            removal a stable_id_attribute_cleared event; each run's end a stamp_run_finished event.

            Exit 0 done, 1 some users failed (listed), 2 refused or usage, 3 runtime failure (Cognito or PostgreSQL: run again
            with --resume).
            """
    )

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, table, json
    }

    @OptionGroup var database: DatabaseOptions
    @Option(help: "The registered pool to stamp.") var pool: String
    @Option(help: "The custom attribute to write (String, mutable, writable by no app client).")
    var attribute: String = PoolStamp.defaultAttribute
    @Flag(help: "Read and count what would be written or removed; change nothing in Cognito, record nothing.") var dryRun = false
    @Flag(help: "Continue the pool's interrupted run of --attribute where it stopped.") var resume = false
    @Option(help: "text or json.") var format: Format = .text
    @Option(
        help: """
            AdminUpdateUserAttributes and AdminDeleteUserAttributes calls per second (default: STABLEID_COGNITO_RATES, else \
            Cognito's quota, 25).
            """)
    var rate: Double?
    @Option(help: "Writes in flight at once.") var workers: Int = 8
    @Option(help: "At most N users written or cleared by this run; it then stops, and --resume continues it.") var limit: Int?
    @Option(help: ArgumentHelp("Users per ListUsers page, 1 to 60 (tests).", visibility: .hidden)) var pageSize: Int = 60

    func validate() throws {
        guard PoolID(pool) != nil else { throw ValidationError("'\(pool)' is not a Cognito user pool id (region_suffix)") }
        guard StampSafety.isCustom(attribute) else {
            throw ValidationError("--attribute must be a custom attribute (custom:…): users may be able to set a standard one")
        }
        guard (1...64).contains(workers) else { throw ValidationError("--workers must be 1 to 64") }
        guard (1...60).contains(pageSize) else { throw ValidationError("--page-size must be 1 to 60") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
        if let rate, !(rate > 0 && rate <= 10_000) { throw ValidationError("--rate must be above 0 (calls per second)") }
        if dryRun, resume { throw ValidationError("--dry-run reads the whole pool: it does not go with --resume") }
        if dryRun, limit != nil { throw ValidationError("--limit counts writes and removals: it does not go with --dry-run") }
    }

    func run() async throws {
        guard let poolID = PoolID(pool) else { throw CLIFailure.usage("'\(pool)' is not a Cognito user pool id") }
        var options = PoolStamp.Options()
        options.attribute = attribute
        options.dryRun = dryRun
        options.resume = resume
        options.limit = limit
        options.workers = workers
        options.pageSize = pageSize
        let rates: [QuotaCategory: Double] = rate.map { [QuotaCategory.userUpdate: $0] } ?? [:]
        try await database.withDatabase(maxConnections: workers + 2, label: "stableid.stamp") { db, logger in
            let stamp = PoolStamp(
                database: db, clients: PoolClients(maxConcurrentTransfers: workers + 2, rates: rates), logger: logger,
                attribution: cliAttribution)
            let progress = ProgressReporter(logger: logger, message: "stamp progress", noun: "seen")
            let summary: StampSummary
            do {
                summary = try await progress.finishing { try await stamp.run(pool: poolID, options: options, progress: progress) }
            } catch {
                throw explain(error)
            }
            let counts = summary.counts
            logger.info(
                "stamp finished",
                metadata: [
                    "pool": "\(poolID)", "attribute": "\(attribute)", "state": "\(summary.state.rawValue)", "dry_run": "\(dryRun)",
                    "seen": "\(counts.seen)", "changed": "\(counts.changed)", "would_change": "\(counts.wouldChange)",
                    "cleared": "\(counts.cleared)", "would_clear": "\(counts.wouldClear)", "skipped": "\(counts.skipped)",
                    "unmapped": "\(counts.unmapped)", "inactive": "\(counts.inactive)", "gone": "\(counts.gone)",
                    "failed": "\(counts.failed)",
                ])
            try printSummary(summary)
            if summary.counts.failed > 0 { throw ExitCode(1) }
        }
    }

    /// A runtime failure leaves the run resumable: the message says how to go on.
    func explain(_ error: any Error) -> any Error {
        guard let failure = CLIFailure(error) else { return error }
        guard failure.exitCode == 3, !dryRun else { return failure }
        return CLIFailure(
            message: failure.message + "\nrun the same command again with --resume: it continues where this run stopped",
            exitCode: failure.exitCode)
    }

    func printSummary(_ summary: StampSummary) throws {
        if format == .json {
            let encoder = JSONEncoder.sortedKeys()
            encoder.outputFormatting.insert(.prettyPrinted)
            print(String(decoding: try encoder.encode(JSONValue.object(summary.json)), as: UTF8.self))
            return
        }
        let counts = summary.counts
        var rows: [[String: String]] = []
        func add(_ outcome: String, _ count: Int) { rows.append(["outcome": outcome, "users": "\(count)"]) }
        add("seen", counts.seen)
        if summary.dryRun {
            add("would_change", counts.wouldChange)
            add("would_clear", counts.wouldClear)
        } else {
            add("changed", counts.changed)
            add("cleared", counts.cleared)
        }
        add("skipped", counts.skipped)
        add("unmapped", counts.unmapped)
        add("inactive", counts.inactive)
        add("gone", counts.gone)
        add("failed", counts.failed)
        printRows(rows, columns: ["outcome", "users"], format: .table)
        for failure in summary.failures {
            let user = failure.person.map { $0.uuidString.lowercased() } ?? "sub \(failure.sub ?? "?")"
            print("failed \(user): \(failure.code)")
        }
        if counts.failed > summary.failures.count { print("(failures listed up to \(StampSummary.listLimit))") }
        if let run = summary.run {
            let resumed = summary.resumed ? " (resumed)" : ""
            print("run \(run.uuidString.lowercased())\(resumed): \(summary.state.rawValue), \(summary.pages) pages")
        }
        if summary.limitReached { print("stopped at --limit: run again with --resume for the rest") }
        for warning in summary.warnings { print("warning: \(warning)") }
    }
}
