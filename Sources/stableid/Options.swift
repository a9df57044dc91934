import ArgumentParser
import Foundation
import IdentityMap
import Logging
import Postgres
import Support
import UserMigration

/// Connection options shared by every command that touches the database.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "libpq connection string or URI (default: $DATABASE_URL, then libpq's PG* variables).")
    var databaseURL: String?

    var url: String {
        databaseURL ?? ProcessInfo.processInfo.environment["DATABASE_URL"] ?? ""
    }

    var readURL: String? {
        ProcessInfo.processInfo.environment["DATABASE_READ_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Batch commands get ``SessionSettings/job`` limits; `serve` passes ``serviceSession()``.
    func database(maxConnections: Int = 4, session: SessionSettings = .job, logger: Logger) -> Database {
        Database(url: url, readURL: readURL, maxConnections: maxConnections, session: session, logger: logger)
    }

    /// The service's per-statement limits: `STABLEID_STATEMENT_TIMEOUT_MS` (default 3000) and
    /// `STABLEID_LOCK_TIMEOUT_MS` (default 1000), short so that lookups and Cognito triggers
    /// answer (503) well inside Cognito's 5 s instead of waiting on a held lock.
    static func serviceSession() throws -> SessionSettings {
        var session = SessionSettings.service
        session.statementTimeoutMilliseconds = try environmentInteger(
            "STABLEID_STATEMENT_TIMEOUT_MS", default: session.statementTimeoutMilliseconds, range: 0...3_600_000)
        session.lockTimeoutMilliseconds = try environmentInteger(
            "STABLEID_LOCK_TIMEOUT_MS", default: session.lockTimeoutMilliseconds, range: 0...3_600_000)
        return session
    }
}

/// A whole-number setting from the environment: absent or empty means `default`; anything else
/// outside `range` is a configuration error (exit 2), never silently replaced by the default.
func environmentInteger(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
    guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else { return value }
    guard let parsed = Int(text), range.contains(parsed) else {
        throw CLIFailure.usage("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound)")
    }
    return parsed
}

/// `--format` for commands whose output is data.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv, ndjson
}

/// The operator running a CLI command, as events name them.
var cliAttribution: Attribution {
    let user =
        ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"]
        ?? ProcessInfo.processInfo.userName
    return Attribution(actor: .cli(user: user.isEmpty ? "unknown" : user))
}

/// Writes rows in the requested format. Table output pads columns; CSV quotes per RFC 4180.
func printRows(_ rows: [[String: String]], columns: [String], format: OutputFormat) {
    switch format {
    case .json:
        let encoder = JSONEncoder.sortedKeys()
        encoder.outputFormatting.insert(.prettyPrinted)
        print(String(decoding: (try? encoder.encode(rows)) ?? Data("[]".utf8), as: UTF8.self))
    case .ndjson:
        let encoder = JSONEncoder.sortedKeys()
        for row in rows { print(String(decoding: (try? encoder.encode(row)) ?? Data(), as: UTF8.self)) }
    case .csv:
        func quote(_ value: String) -> String {
            value.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
        }
        print(columns.joined(separator: ","))
        for row in rows { print(columns.map { quote(row[$0] ?? "") }.joined(separator: ",")) }
    case .table:
        let widths = columns.map { column in max(column.count, rows.map { ($0[column] ?? "").count }.max() ?? 0) }
        func line(_ values: [String]) -> String {
            zip(values, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ")
                .trimmingCharacters(in: .whitespaces)
        }
        print(line(columns.map { $0.uppercased() }))
        for row in rows { print(line(columns.map { row[$0] ?? "" })) }
    }
}

/// The projection's two knobs, shared by `campaign progress` and `campaign report`, checked by the
/// same rule the API uses (``CampaignProgressStore/validate(level:windowDays:)``).
struct ProjectionOptions: ParsableArguments {
    @Option(help: "The remaining share the projection looks for, between 0 and 1 (0.01 = 1 %).") var level: Double = 0.01
    @Option(help: "Fit the projection on the last N weeks (1 to 52).") var windowWeeks: Int = 4

    /// The level and the window in days, or a usage error (exit 2) that says which is wrong.
    func validated() throws -> (level: Double, windowDays: Int) {
        guard (1...52).contains(windowWeeks) else { throw CLIFailure.usage("--window-weeks takes 1 to 52") }
        do {
            try CampaignProgressStore.validate(level: level, windowDays: windowWeeks * 7)
        } catch {
            throw CLIFailure.usage("\(error)")
        }
        return (level, windowWeeks * 7)
    }
}
