public import Foundation
public import IdentityMap

/// A `stableid campaign cleanup --apply` run ended, completely or at its `--limit`: counts only.
/// Each source user it disabled or deleted is that identity's own `identity_status_changed`
/// (naming the campaign); usernames and emails are in none of them.
public struct CampaignCleanupCompletedDetails: EventDetails {
    public static let kind = EventKind.campaignCleanupCompleted
    public var campaign: UUID
    public var reconciliationRun: UUID
    public var mode: CleanupMode
    public var olderThan: TimeInterval
    public var cleaned: Int
    public var settled: Int
    public var skipped: [CleanupSkip: Int]
    public var failed: Int
    public var limitReached: Bool

    public var json: [String: JSONValue] {
        [
            "campaign": JSONValue(campaign), "reconciliation_run": JSONValue(reconciliationRun), "mode": .string(mode.rawValue),
            "older_than_seconds": .number(olderThan), "cleaned": .number(Double(cleaned)), "settled": .number(Double(settled)),
            "skipped": .object(
                Dictionary(uniqueKeysWithValues: CleanupSkip.allCases.map { ($0.rawValue, JSONValue.number(Double(skipped[$0] ?? 0))) })),
            "failed": .number(Double(failed)), "limit_reached": .bool(limitReached),
        ]
    }
}
