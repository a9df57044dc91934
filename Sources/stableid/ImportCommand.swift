public import ArgumentParser
public import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Logging
import Support

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Backfill the map from a Cognito pool (live ListUsers) or from a list-users JSON / CSV file.",
        discussion: """
            Idempotent: users already mapped are counted, not touched; a second run creates nothing.
            Exit 0 when everything is mapped, 1 when some records conflict or are invalid (see the report).
            Live mode reads at the ListUsers quota (30 requests/s by default; STABLEID_COGNITO_RATES=UserList=N).
            """
    )

    @OptionGroup var database: DatabaseOptions

    @Option(help: "The registered pool the users belong to (and, without --file, the pool to read).")
    var pool: String

    @Option(help: "Read this file instead of calling Cognito: `aws cognito-idp list-users` JSON (one or many pages) or CSV.")
    var file: String?

    @Option(help: "json or csv (default: from the file name).")
    var fileFormat: UserFileReader.Format?

    @Flag(help: "Use each user's legacy sub as its stable ID (for applications that keyed data by sub).")
    var reuseSubAsUserID = false

    @Flag(help: "Count what would happen; write nothing.")
    var dryRun = false

    @Option(help: "Report format: table or json.")
    var format: OutputFormat = .table

    func run() async throws {
        guard let poolID = PoolID(pool) else { throw CLIFailure.usage("'\(pool)' is not a Cognito user pool id (region_suffix)") }
        try await database.withDatabase(maxConnections: 2, label: "stableid.import") { db, logger in
            let source: UserSource
            if let file {
                source = .file(path: file, format: fileFormat)
            } else {
                // The pool's own access (its region, profile or role), as every other reader of it.
                guard let registered = try await PoolStore(database: db).pool(poolID) else {
                    throw IdentityMapError.unknownPool(poolID.rawValue)
                }
                source = .pool(poolID, client: try PoolClients().client(for: registered))
            }
            let run = BackfillImport(
                database: db, pool: poolID, reuseSubAsUserID: reuseSubAsUserID, source: source.label, attribution: cliAttribution
            )
            try await run.checkPool()
            let progress = ProgressReporter(logger: logger)
            do {
                try await run.stage(from: source, progress: progress)
            } catch {
                progress.finish()
                await run.discard()
                throw Self.explain(error, pool: poolID)
            }
            let report = try await run.finish(dryRun: dryRun)
            progress.finish()
            logger.info(
                "import finished",
                metadata: [
                    "pool": "\(poolID)", "run": "\(run.runID.uuidString.lowercased())", "seen": "\(report.seen)",
                    "created": "\(report.created)",
                    "already_mapped": "\(report.alreadyMapped)", "conflicting": "\(report.conflicting)", "dry_run": "\(report.dryRun)",
                ]
            )
            try printReport(report)
            if report.conflicting > 0 || report.invalid > 0 { throw ExitCode(1) }
        }
    }

    /// Cognito failing mid-read is a runtime failure (3) that should name the pool; configuration
    /// problems and bad files keep their usage exit code (2) through `CLIFailure`.
    static func explain(_ error: any Error, pool: PoolID) -> any Error {
        guard let error = error as? CognitoError else { return error }
        if case .configuration = error { return error }
        return CLIFailure.runtime("reading \(pool) from Cognito failed: \(error)")
    }

    private func printReport(_ report: BackfillReport) throws {
        switch format {
        case .json, .ndjson:
            print(String(decoding: try JSONEncoder.sortedKeys().encode(report), as: UTF8.self))
        case .table, .csv:
            printRows(
                [
                    [
                        "seen": "\(report.seen)", "created": "\(report.created)", "already_mapped": "\(report.alreadyMapped)",
                        "conflicting": "\(report.conflicting)", "duplicates": "\(report.duplicates)", "invalid": "\(report.invalid)",
                        "dry_run": "\(report.dryRun)",
                    ]
                ],
                columns: ["seen", "created", "already_mapped", "conflicting", "duplicates", "invalid", "dry_run"],
                format: format == .csv ? .csv : .table
            )
        }
    }
}

extension UserFileReader.Format: ExpressibleByArgument {}
