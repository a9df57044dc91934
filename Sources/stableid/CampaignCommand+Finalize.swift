public import ArgumentParser
import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Support
public import UserMigration

extension CampaignCommand {
    /// `stableid campaign finalize`: the long tail (docs/OPERATIONS.md, Finalizing a campaign).
    struct Finalize: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move the users a campaign still has to move: invitations, passwordless accounts, or user-import CSV files.",
            discussion: """
                Works from the unmigrated findings of the campaign's latest completed reconciliation (run stableid reconcile
                --campaign first), each checked against the map now. People with an open duplicate or conflict finding are held
                back and listed. The campaign moves to the finalizing phase.

                invite: AdminCreateUser in the target with the source user's standard attributes and the stable-ID attribute;
                Cognito sends a temporary password to a verified email (else a verified phone number, by SMS); users with
                neither are skipped. --resend sends invited users who never signed in a new one once theirs is --older-than
                the target's temporary-password validity. passwordless: the same without a password or a message; the target
                must allow EMAIL_OTP, SMS_OTP or WEB_AUTHN sign-in (--assume-passwordless-pool when DescribeUserPool does not
                say), and users need a verified email or phone that fits. Both are paced at the AdminCreateUser quota
                (STABLEID_COGNITO_RATES=UserCreation=N) and resumable: after an interruption run again with --resume; nobody is
                created twice. One run per campaign at a time. csv: import-job files <out>/<campaign>-0001.csv, … (mode 0600)
                with the target pool's header, split at 500,000 users or 100 MB; --file POOL=PATH reads a source pool from a
                list-users JSON export instead of ListUsers.

                Exit 0 done, 1 some users failed (listed), 2 usage, 3 runtime failure (Cognito or PostgreSQL).
                """
        )

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Campaign id or name.") var campaign: String
        @Option(help: "invite, csv or passwordless.") var mode: FinalizeMode
        @Flag(help: "List what would be created, exported or resent; write nothing, create nothing.") var dryRun = false
        @Option(help: "At most N users created (exported, resent) by this run.") var limit: Int?
        @Flag(help: "invite, passwordless: settle the users an interrupted run was creating, then go on.") var resume = false
        @Flag(help: "invite: send invited users who never signed in a new temporary password.") var resend = false
        @Option(
            help: """
                --resend: only invitations sent (or resent) at least this long ago: 12h, 7d… \
                (default: the target's TemporaryPasswordValidityDays, else 7d).
                """)
        var olderThan: String?
        @Flag(help: "passwordless: the target allows EMAIL_OTP, SMS_OTP or WEB_AUTHN sign-in although DescribeUserPool does not say.")
        var assumePasswordlessPool = false
        @Option(help: "csv: the directory for the files (empty, existing).") var out: String?
        @Option(name: .customLong("file"), help: "csv: POOL=PATH, a source pool's users from a list-users JSON file; repeatable.")
        var files: [String] = []
        @Option(help: "json: read every --file as JSON whatever its name (CSV lists are refused: they carry too little).")
        var fileFormat: UserFileReader.Format?
        @Option(
            help: """
                csv with --file: at most N of a pool's unmigrated users held in memory at once (40 bytes each); a larger set \
                is read in slices, the file once per slice.
                """)
        var inMemoryUsers: Int = CampaignFinalizer.Options.defaultCSVTableCapacity
        @Option(help: "invite, passwordless: users handled at once.") var workers: Int = 32
        @Option(help: "table or json.") var format: OutputFormat = .table

        func validate() throws {
            if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
            guard (1...256).contains(workers) else { throw ValidationError("--workers must be 1 to 256") }
            guard inMemoryUsers >= 1 else { throw ValidationError("--in-memory-users must be at least 1") }
            guard format == .table || format == .json else { throw ValidationError("--format is table or json") }
            if mode == .csv {
                guard out != nil || dryRun else { throw ValidationError("--mode csv needs --out DIR") }
                guard !resume else { throw ValidationError("--resume is for invite and passwordless: run a CSV export again") }
            } else {
                guard out == nil, files.isEmpty, fileFormat == nil else { throw ValidationError("--out and --file go with --mode csv") }
            }
            if fileFormat == .csv {
                throw ValidationError(
                    "--file-format csv: a list-users CSV file carries no names, phone numbers or other standard attributes, "
                        + "which the import files need; give list-users JSON files")
            }
            if resend {
                guard mode == .invite else { throw ValidationError("--resend goes with --mode invite") }
                guard !resume else { throw ValidationError("--resend and --resume do not go together") }
            }
            if let olderThan {
                guard resend else { throw ValidationError("--older-than goes with --resend") }
                guard DurationText.seconds(olderThan) != nil else {
                    throw ValidationError("--older-than takes a whole number and a unit: 90s, 30m, 12h, 7d")
                }
            }
            if assumePasswordlessPool, mode != .passwordless {
                throw ValidationError("--assume-passwordless-pool goes with --mode passwordless")
            }
        }

        func run() async throws {
            var options = CampaignFinalizer.Options(mode: mode)
            options.dryRun = dryRun
            options.limit = limit
            options.resume = resume
            options.resend = resend
            options.resendOlderThan = olderThan.flatMap(DurationText.seconds)
            options.assumePasswordlessPool = assumePasswordlessPool
            options.workers = workers
            options.outDirectory = out.map { URL(fileURLWithPath: $0) }
            options.fileFormat = fileFormat
            options.csvTableCapacity = inMemoryUsers
            for entry in files {
                guard let equals = entry.firstIndex(of: "="), let pool = PoolID(String(entry[..<equals])),
                    !entry[entry.index(after: equals)...].isEmpty
                else { throw CLIFailure.usage("--file takes POOL=PATH, got '\(entry)'") }
                guard options.files[pool] == nil else { throw CLIFailure.usage("--file names \(pool) twice") }
                options.files[pool] = String(entry[entry.index(after: equals)...])
            }
            try await database.withDatabase(maxConnections: 8, label: "stableid.finalize") { db, logger in
                let finalizer = CampaignFinalizer(
                    database: db, clients: PoolClients(maxConcurrentTransfers: workers), logger: logger, attribution: cliAttribution)
                let progress = ProgressReporter(logger: logger, message: "finalize progress", noun: "processed")
                let summary: FinalizeSummary
                do {
                    summary = try await progress.finishing {
                        try await finalizer.run(campaign: campaign, options: options, progress: progress)
                    }
                } catch {
                    throw explain(error)
                }
                try printSummary(summary)
                if summary.failedCount > 0 { throw ExitCode(1) }
            }
        }

        /// A runtime failure of an invite or passwordless run may leave users half created: the
        /// message says how to go on.
        func explain(_ error: any Error) -> any Error {
            guard let failure = CLIFailure(error) else { return error }
            guard failure.exitCode == 3, mode != .csv, !dryRun else { return failure }
            return CLIFailure(
                message: failure.message + "\nrun the same command again with --resume: it settles the users this run was creating",
                exitCode: failure.exitCode)
        }

        func printSummary(_ summary: FinalizeSummary) throws {
            if format == .json {
                let encoder = JSONEncoder.sortedKeys()
                encoder.outputFormatting.insert(.prettyPrinted)
                print(String(decoding: try encoder.encode(JSONValue.object(summary.json)), as: UTF8.self))
                return
            }
            var rows: [[String: String]] = []
            func add(_ outcome: String, _ count: Int) { rows.append(["outcome": outcome, "users": "\(count)"]) }
            if summary.dryRun {
                add(summary.mode == .csv ? "would_export" : summary.resend ? "would_resend" : "would_create", summary.wouldCreate)
            } else if summary.mode == .csv {
                add("exported", summary.exported)
            } else if summary.resend {
                add("resent", summary.resent)
            } else {
                add("created", summary.created)
                add("adopted", summary.adopted)
            }
            for (reason, count) in summary.skipped.sorted(by: { $0.key < $1.key }) where count > 0 {
                add("skipped:\(reason.rawValue)", count)
            }
            add("held", summary.heldCount)
            add("failed", summary.failedCount)
            printRows(rows, columns: ["outcome", "users"], format: .table)
            for hold in summary.held {
                let findings = hold.findings.isEmpty ? "" : " findings " + hold.findings.map(String.init).joined(separator: ",")
                print("held \(hold.person.uuidString.lowercased()): \(hold.reasons.joined(separator: ", "))\(findings)")
            }
            for failure in summary.failed { print("failed \(failure.person.uuidString.lowercased()): \(failure.code)") }
            let would = summary.mode == .csv ? "export" : summary.resend ? "resend" : "create"
            for person in summary.wouldList { print("would \(would) \(person.uuidString.lowercased())") }
            for (medium, count) in summary.deliveries.sorted(by: { $0.key < $1.key }) { print("invitations by \(medium): \(count)") }
            if summary.heldCount > summary.held.count || summary.failedCount > summary.failed.count
                || summary.wouldCreate > summary.wouldList.count
            {
                print("(lists cut at \(FinalizeSummary.listLimit); --format json has the same lists)")
            }
            for file in summary.files { print("file \(file)") }
            if summary.limitReached { print("stopped at --limit: run again for the rest") }
            if let olderThan = summary.resendOlderThan.map({ Int($0) }) {
                let age =
                    olderThan % 86_400 == 0 ? "\(olderThan / 86_400)d" : olderThan % 3_600 == 0 ? "\(olderThan / 3_600)h" : "\(olderThan)s"
                print("only invitations sent at least \(age) ago (--older-than)")
            }
            print("reconciliation \(summary.reconciliationRun.uuidString.lowercased()) of \(RFC3339.format(summary.reconciledAt))")
            for warning in summary.warnings { print("warning: \(warning)") }
        }
    }
}

extension FinalizeMode: ExpressibleByArgument {}
