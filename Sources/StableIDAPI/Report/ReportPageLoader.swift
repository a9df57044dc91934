public import CampaignReport
public import Foundation
public import IdentityMap
import Reconciliation
public import UserMigration

/// Gathers one campaign's report — its progress (``CampaignProgressStore``, the same numbers as
/// `campaign progress` and the API) and its open findings — for ``CampaignReport`` to render. The
/// served page and `stableid campaign report --html` both load through here, so they show the same.
public struct ReportPageLoader: Sendable {
    let progress: CampaignProgressStore
    let findings: FindingStore

    public init(database: Database) {
        self.progress = CampaignProgressStore(database: database)
        self.findings = FindingStore(database: database)
    }

    /// `level` and `windowDays` are the projection's (``ProgressProjection``); `limit` is how many
    /// open findings of each kind the page lists.
    public func page(
        for campaign: Campaign, level: Double = 0.01, windowDays: Int = 28, now: Date = Date(), limit: Int = ReportFindings.defaultLimit
    ) async throws -> ReportPage {
        let progress = try await self.progress.progress(of: campaign, level: level, windowDays: windowDays, now: now)
        // Findings are kept per reconciliation scope; a campaign's runs use the campaign's.
        let scope = ReconcileScope(campaign: campaign).key
        let counts = try await findings.openCounts(scope: scope)
        var open: [FindingKind: [Finding]] = [:]
        for kind in FindingKind.allCases where counts[kind] > 0 {
            open[kind] = try await findings.list(FindingFilter(kinds: [kind], state: .open, scope: scope), limit: limit)
        }
        let run = try await findings.latestCompletedRun(scope: scope)?.run
        return ReportPage(
            progress: progress,
            findings: ReportFindings(counts: counts, open: open, limit: limit, asOf: run.map { $0.finishedAt ?? $0.startedAt }),
            generatedAt: now
        )
    }
}
