import ArgumentParser
import Cognito
import Foundation
import IdentityMap
import Logging

struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
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
        LogSetup.bootstrap()
        let logger = Logger(label: "stableid.import")
        guard let poolID = PoolID(pool) else { throw CLIFailure.usage("'\(pool)' is not a Cognito user pool id (region_suffix)") }
        let db = database.database(maxConnections: 2, logger: logger)
        defer { db.shutdown() }
        let run = BackfillImport(
            database: db, pool: poolID, reuseSubAsUserID: reuseSubAsUserID,
            source: file.map { "file:\(URL(fileURLWithPath: $0).lastPathComponent)" } ?? "cognito:ListUsers",
            attribution: cliAttribution
        )
        try await run.checkPool()
        let progress = Progress(logger: logger)
        do {
            try await stageAll(into: run, pool: poolID, progress: progress, logger: logger)
        } catch {
            progress.done()
            await run.discard()
            throw error
        }
        let report = try await run.finish(dryRun: dryRun)
        progress.done()
        logger.info(
            "import finished",
            metadata: [
                "pool": "\(poolID)", "run": "\(run.runID.uuidString.lowercased())", "seen": "\(report.seen)", "created": "\(report.created)",
                "already_mapped": "\(report.alreadyMapped)", "conflicting": "\(report.conflicting)", "dry_run": "\(report.dryRun)",
            ]
        )
        switch format {
        case .json, .ndjson:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        case .table, .csv:
            printRows(
                [[
                    "seen": "\(report.seen)", "created": "\(report.created)", "already_mapped": "\(report.alreadyMapped)",
                    "conflicting": "\(report.conflicting)", "duplicates": "\(report.duplicates)", "invalid": "\(report.invalid)",
                    "dry_run": "\(report.dryRun)",
                ]],
                columns: ["seen", "created", "already_mapped", "conflicting", "duplicates", "invalid", "dry_run"],
                format: format == .csv ? .csv : .table
            )
        }
        if report.conflicting > 0 || report.invalid > 0 { throw ExitCode(1) }
    }


    /// Streams the source into the run's staging table, a chunk (file) or page (live) at a time.
    private func stageAll(into run: BackfillImport, pool poolID: PoolID, progress: Progress, logger: Logger) async throws {
        if let file {
            let reader: UserFileReader
            do {
                reader = try UserFileReader(path: file, format: fileFormat)
            } catch {
                throw CLIFailure.usage("\(error)")
            }
            while true {
                let users: [UserType]
                do {
                    users = try reader.next()
                } catch {
                    throw CLIFailure.usage("\(error)")
                }
                if users.isEmpty { break }
                try await run.stage(users.map(Self.record))
                progress.update(staged: users.count, detail: "\(reader.bytesRead / 1_048_576) MiB read")
            }
        } else {
            let client: CognitoClient
            do {
                client = try CognitoClient.fromEnvironment(region: poolID.region, logger: logger)
            } catch {
                throw CLIFailure.usage("\(error)")
            }
            do {
                for try await page in client.listUsers(poolID: poolID.rawValue) {
                    try await run.stage(page.Users.map(Self.record))
                    progress.update(staged: page.Users.count, detail: "pages")
                }
            } catch let error as CognitoError {
                throw CLIFailure.runtime("reading \(poolID) from Cognito failed: \(error)")
            }
        }
    }


    /// A Cognito user → what the map records. Federated users carry their provider in the
    /// `identities` attribute (`[{"providerName":"Google",…}]`).
    static func record(_ user: UserType) -> BackfillRecord {
        var provider = "Cognito"
        if let identities = user.attribute("identities"),
            let list = try? JSONSerialization.jsonObject(with: Data(identities.utf8)) as? [[String: Any]],
            let name = list.first?["providerName"] as? String, !name.isEmpty
        {
            provider = name.filter { $0.isLetter || $0.isNumber || "_-.".contains($0) }
        }
        return BackfillRecord(
            sub: user.attribute("sub") ?? "",
            username: user.Username,
            email: user.attribute("email"),
            emailVerified: user.attribute("email_verified")?.lowercased() == "true",
            provider: provider.isEmpty ? "Cognito" : provider,
            enabled: user.Enabled ?? true
        )
    }
}

extension UserFileReader.Format: ExpressibleByArgument {}

/// A progress line on a terminal; structured log lines every few seconds otherwise.
final class Progress: @unchecked Sendable {
    private let logger: Logger
    private let isTTY = isatty(STDERR_FILENO) == 1
    private let started = ContinuousClock.now
    private var lastLog = ContinuousClock.now
    private var staged = 0

    init(logger: Logger) {
        self.logger = logger
    }

    func update(staged count: Int, detail: String) {
        staged += count
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        let rate = seconds > 0 ? Int(Double(staged) / seconds) : 0
        if isTTY {
            FileHandle.standardError.write(Data("\r\u{1B}[2Kstaged \(staged) users (\(rate)/s, \(detail))".utf8))
        } else if ContinuousClock.now - lastLog >= .seconds(5) {
            lastLog = ContinuousClock.now
            logger.info("import progress", metadata: ["staged": "\(staged)", "per_second": "\(rate)"])
        }
    }

    func done() {
        if isTTY { FileHandle.standardError.write(Data("\r\u{1B}[2K".utf8)) }
    }
}
