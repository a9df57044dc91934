import ArgumentParser
import Foundation
import IdentityMap
import StableIDAPI
import Support
import UserMigration

extension CampaignCommand {
    /// `stableid campaign progress ID|NAME`: the same numbers as `GET /v1/campaigns/{id}/progress`
    /// (json prints that body), or a summary and the day rows (table), or the day rows alone (csv).
    struct ShowProgress: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "progress",
            abstract: "A campaign's links by day and path, what remains, and when the rest is projected below a level.",
            discussion: """
                Migrated: active identities in the target pool the campaign linked, by the UTC day they were linked and
                by path. Remaining: the latest completed reconciliation's unmigrated users less the links made since it
                finished, or, before any reconciliation, the source people with no active target identity. The projection
                fits exponential decay to the remaining count of the last --window-weeks by least squares on its
                logarithm (docs/OPERATIONS.md, "Campaign progress").
                """
        )

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, json, csv
        }

        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Campaign id or name.") var campaign: String
        @Option(help: "table (summary and days), json (the HTTP body) or csv (one row per day).") var format: Format = .table
        @Option(help: "The remaining share the projection looks for, between 0 and 1 (0.01 = 1 %).") var level: Double = 0.01
        @Option(help: "Fit the projection on the last N weeks (1 to 52).") var windowWeeks: Int = 4

        func run() async throws {
            guard (1...52).contains(windowWeeks) else { throw CLIFailure.usage("--window-weeks takes 1 to 52") }
            try CampaignProgressStore.validate(level: level, windowDays: windowWeeks * 7)
            try await database.withDatabase { db, _ in
                guard let found = try await CampaignStore(database: db).campaign(campaign) else {
                    throw CLIFailure.usage("no campaign \(campaign)")
                }
                let progress = try await CampaignProgressStore(database: db).progress(
                    of: found, level: level, windowDays: windowWeeks * 7)
                switch format {
                case .json:
                    print(try ProgressJSON(progress).text())
                case .csv:
                    printRows(Self.rows(progress), columns: Self.columns, format: .csv)
                case .table:
                    for line in Self.summary(progress) { print(line) }
                    print()
                    printRows(Self.rows(progress), columns: Self.columns, format: .table)
                }
            }
        }

        /// The day, each path in `LinkPath.allCases` order, the day's total and the running total.
        static let columns = ["day"] + LinkPath.allCases.map(\.rawValue) + ["total", "cumulative"]

        static func rows(_ progress: CampaignProgress) -> [[String: String]] {
            progress.days.map { day in
                var row = ["day": String(RFC3339.format(day.day).prefix(10)), "total": "\(day.total)", "cumulative": "\(day.cumulative)"]
                for path in LinkPath.allCases { row[path.rawValue] = "\(day.links[path] ?? 0)" }
                return row
            }
        }

        static func summary(_ progress: CampaignProgress) -> [String] {
            let campaign = progress.campaign
            let sources = campaign.sources.map(\.pool.rawValue).joined(separator: ", ")
            let whence: String
            if let run = progress.reconciliationRun {
                whence = "from reconciliation run \(run.uuidString.lowercased()), less the links made since it finished"
            } else {
                whence = "from the map (no reconciliation yet): source people without an active target identity"
            }
            let id = campaign.id.uuidString.lowercased()
            let share = "\(percent(progress.remainingShare)) of \(progress.migrated + progress.remaining)"
            return [
                "campaign    \(campaign.name) (\(id)): \(sources) -> \(campaign.target), phase \(campaign.phase.rawValue)",
                "migrated    \(progress.migrated) active target identities linked by the campaign",
                "remaining   \(progress.remaining) (\(share)), \(whence)",
                "projection  " + projection(progress.projection),
            ]
        }

        static func projection(_ fit: ProgressProjection) -> String {
            let model = "exponential decay fitted on the last \(fit.windowDays) days (\(fit.pointsUsed) with users remaining)"
            var facts: [String] = []
            if let rate = fit.rate { facts.append("k \(decimal(rate, 4))/day") }
            if let halfLife = fit.halfLifeDays { facts.append("half-life \(decimal(halfLife, 1)) days") }
            if let rSquared = fit.rSquared { facts.append("R² \(decimal(rSquared, 3))") }
            let level = percent(fit.level)
            let outcome: String
            switch fit.unavailable {
            case .reached: outcome = "already below \(level)"
            case .tooFewDays: outcome = "too few days to fit (\(fit.pointsUsed) of the \(ProgressProjection.minimumPoints) needed)"
            case .notDecaying: outcome = "not decaying fast enough to name a date below \(level)"
            case nil: outcome = fit.reachesLevelOn.map { "below \(level) on \(RFC3339.format($0).prefix(10))" } ?? "no date"
            }
            return ([model] + facts).joined(separator: ", ") + ": " + outcome
        }

        static func percent(_ share: Double) -> String {
            decimal(share * 100, share < 0.1 ? 2 : 1) + " %"
        }

        /// `value` with `digits` decimals (FoundationEssentials has no `String(format:)`).
        static func decimal(_ value: Double, _ digits: Int) -> String {
            guard value.isFinite, abs(value) < 1e12 else { return "\(value)" }
            var scale = 1
            for _ in 0..<max(0, digits) { scale *= 10 }
            let units = Int((abs(value) * Double(scale)).rounded())
            let fraction = String(units % scale)
            let sign = value < 0 && units > 0 ? "-" : ""
            guard digits > 0 else { return sign + "\(units)" }
            return sign + "\(units / scale)." + String(repeating: "0", count: digits - fraction.count) + fraction
        }
    }
}
