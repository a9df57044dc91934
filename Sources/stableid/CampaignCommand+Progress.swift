import ArgumentParser
import CampaignReport
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
        @OptionGroup var projection: ProjectionOptions

        func run() async throws {
            let (level, windowDays) = try projection.validated()
            try await database.withDatabase { db, _ in
                guard let found = try await CampaignStore(database: db).campaign(campaign) else {
                    throw CLIFailure.usage("no campaign \(campaign)")
                }
                let progress = try await CampaignProgressStore(database: db).progress(
                    of: found, level: level, windowDays: windowDays)
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
                var row = ["day": RFC3339.day(day.day), "total": "\(day.total)", "cumulative": "\(day.cumulative)"]
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
            if let rate = fit.rate { facts.append("k \(ReportFormat.decimal(rate, digits: 4))/day") }
            if let halfLife = fit.halfLifeDays { facts.append("half-life \(ReportFormat.decimal(halfLife, digits: 1)) days") }
            if let rSquared = fit.rSquared { facts.append("R² \(ReportFormat.decimal(rSquared, digits: 3))") }
            let level = percent(fit.level)
            let outcome: String
            switch fit.unavailable {
            case .reached: outcome = "already below \(level)"
            case .tooFewDays: outcome = "too few days to fit (\(fit.pointsUsed) of the \(ProgressProjection.minimumPoints) needed)"
            case .notDecaying: outcome = "not decaying fast enough to name a date below \(level)"
            case nil: outcome = fit.reachesLevelOn.map { "below \(level) on \(RFC3339.day($0))" } ?? "no date"
            }
            return ([model] + facts).joined(separator: ", ") + ": " + outcome
        }

        static func percent(_ share: Double) -> String {
            ReportFormat.decimal(share * 100, digits: share < 0.1 ? 2 : 1) + " %"
        }
    }
}
