public import ArgumentParser
import CognitoIngest
import Foundation
import IdentityMap
import Support
public import UserMigration

extension CampaignCommand {
    /// `stableid campaign cleanup`: the source users of people who moved (docs/OPERATIONS.md,
    /// Cleaning up the source pools).
    struct Cleanup: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable or delete the source users of people who use their account in the target pool.",
            discussion: """
                A source user is cleaned when its person has an active identity in the target that signed in there (the
                post-authentication or pre token generation trigger recorded it) at least --older-than ago. Never touched: a
                person with an open duplicate or conflict finding of the campaign, a source user outside the campaign's subset,
                one changed (UserLastModifiedDate) after its target identity was linked, one gone or already disabled. Each
                user cleaned is an identity_status_changed event naming the campaign; the identity stays in the map (disabled or
                deleted), so its sub still resolves and its history stays.

                Give --dry-run (list who would be cleaned, by user id, pool and sub; change nothing) or --apply. --apply needs
                a completed reconciliation of the campaign from the last 24 h (stableid reconcile --campaign first), and reads
                each user again right before its Cognito call: one who no longer qualifies (a finding opened during the run, an
                unlink) is skipped and listed. Paced at the UserResourceUpdate quota (STABLEID_COGNITO_RATES=UserResourceUpdate=N;
                25/s by default), resumable: after an interruption run again with --resume; nobody is touched twice. One run per
                campaign at a time.

                Exit 0 done, 1 some users failed (listed), 2 usage (no recent reconciliation, another run going on, an
                interrupted run without --resume), 3 runtime failure (Cognito or PostgreSQL).
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Campaign id or name.") var campaign: String
        @Option(help: "The person's first sign-in in the target at least this long ago: 30d, 12h, 0s…") var olderThan: String = "30d"
        @Option(help: "disable (AdminDisableUser) or delete (AdminDeleteUser).") var mode: CleanupMode = .disable
        @Flag(help: "List who would be cleaned; change nothing.") var dryRun = false
        @Flag(help: "Disable or delete them (each an audited change).") var apply = false
        @Option(help: "At most N users cleaned by this run.") var limit: Int?
        @Flag(help: "Settle the users an interrupted run was cleaning, then go on.") var resume = false
        @Option(help: "Users handled at once.") var workers: Int = 16
        @Option(help: "table or json.") var format: OutputFormat = .table

        func validate() throws {
            guard dryRun != apply else {
                throw ValidationError("give exactly one of --dry-run (list who would be cleaned) or --apply (clean them)")
            }
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            guard (1...256).contains(workers) else { throw ValidationError("--workers must be 1 to 256") }
            guard format == .table || format == .json else { throw ValidationError("--format is table or json") }
            guard DurationText.seconds(olderThan) != nil else {
                throw ValidationError("--older-than takes a whole number and a unit: 90s, 30m, 12h, 30d")
            }
        }

        func run() async throws {
            var options = SourceCleanup.Options(mode: mode, dryRun: dryRun)
            options.olderThan = DurationText.seconds(olderThan) ?? SourceCleanup.defaultOlderThan
            options.limit = limit
            options.resume = resume
            options.workers = workers
            try await database.withDatabase(maxConnections: 8, label: "stableid.cleanup") { db, logger in
                let cleanup = SourceCleanup(
                    database: db, clients: PoolClients(maxConcurrentTransfers: workers), logger: logger, attribution: cliAttribution)
                let progress = ProgressReporter(logger: logger, message: "cleanup progress", noun: "processed")
                let summary: CleanupSummary
                do {
                    summary = try await progress.finishing {
                        try await cleanup.run(campaign: campaign, options: options, progress: progress)
                    }
                } catch {
                    throw explain(error)
                }
                try printSummary(summary)
                if summary.failedCount > 0 { throw ExitCode(1) }
            }
        }

        /// A runtime failure of an applying run may leave a user between its row and its Cognito
        /// call: the message says how to go on.
        func explain(_ error: any Error) -> any Error {
            guard let failure = CLIFailure(error) else { return error }
            guard failure.exitCode == 3, apply else { return failure }
            return CLIFailure(
                message: failure.message + "\nrun the same command again with --resume: it settles the users this run was cleaning",
                exitCode: failure.exitCode)
        }

        func printSummary(_ summary: CleanupSummary) throws {
            if format == .json {
                let encoder = JSONEncoder.sortedKeys()
                encoder.outputFormatting.insert(.prettyPrinted)
                print(String(decoding: try encoder.encode(JSONValue.object(summary.json)), as: UTF8.self))
                return
            }
            var rows: [[String: String]] = []
            func add(_ outcome: String, _ count: Int) { rows.append(["outcome": outcome, "users": "\(count)"]) }
            if summary.dryRun {
                add("would_clean", summary.wouldClean)
            } else {
                add("cleaned", summary.cleaned)
                if summary.settled > 0 { add("settled", summary.settled) }
            }
            for reason in CleanupSkip.allCases.sorted() where (summary.skipped[reason] ?? 0) > 0 {
                add("skipped:\(reason.rawValue)", summary.skipped[reason] ?? 0)
            }
            add("failed", summary.failedCount)
            printRows(rows, columns: ["outcome", "users"], format: .table)
            let verb = summary.mode == .disable ? "disable" : "delete"
            for user in summary.users {
                let done = summary.dryRun ? "would \(verb)" : verb + "d"
                print("\(done) \(user.person.uuidString.lowercased()) \(user.pool.rawValue)/\(user.sub)")
            }
            for failure in summary.failed {
                print(
                    "failed \(failure.user.person.uuidString.lowercased()) \(failure.user.pool.rawValue)/\(failure.user.sub): \(failure.code)"
                )
            }
            for skip in summary.skippedOnRecheck {
                print(
                    "skipped \(skip.user.person.uuidString.lowercased()) \(skip.user.pool.rawValue)/\(skip.user.sub): "
                        + "\(skip.reason.rawValue) (re-checked right before the call)")
            }
            if summary.users.count < summary.cleaned + summary.wouldClean || summary.failed.count < summary.failedCount
                || summary.skippedOnRecheck.count < summary.skippedOnRecheckCount
            {
                print("(lists cut at \(CleanupSummary.listLimit); --format json has the same lists)")
            }
            if summary.limitReached { print("stopped at --limit: run again for the rest") }
            if let run = summary.reconciliationRun, let at = summary.reconciledAt {
                print("reconciliation \(run.uuidString.lowercased()) of \(RFC3339.format(at))")
            }
            for warning in summary.warnings { print("warning: \(warning)") }
        }
    }
}

extension CleanupMode: ExpressibleByArgument {}
