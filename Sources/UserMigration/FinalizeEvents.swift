public import Foundation
public import IdentityMap

// The events of `stableid campaign finalize`: counts only. Who was created is each person's own
// `identity_linked` event; emails and usernames are never in these details.

/// `--mode csv` wrote user-import files for an import job.
public struct CampaignFinalizeExportedDetails: EventDetails {
    public static let kind = EventKind.campaignFinalizeExported
    public var campaign: UUID
    /// The reconciliation run whose `unmigrated` findings were exported.
    public var reconciliationRun: UUID
    public var files: Int
    public var users: Int
    public var held: Int
    public var skipped: Int
    /// `GetCSVHeader`, or `DescribeUserPool` when the header was derived from the schema.
    public var headerSource: String

    public var json: [String: JSONValue] {
        [
            "campaign": JSONValue(campaign), "reconciliation_run": JSONValue(reconciliationRun), "files": .number(Double(files)),
            "users": .number(Double(users)), "held": .number(Double(held)), "skipped": .number(Double(skipped)),
            "header_source": .string(headerSource),
        ]
    }
}

/// A `--mode invite|passwordless` run (or `--resend`) ended, completely or at its `--limit`.
public struct CampaignFinalizeCompletedDetails: EventDetails {
    public static let kind = EventKind.campaignFinalizeCompleted
    public var campaign: UUID
    public var reconciliationRun: UUID
    public var mode: FinalizeMode
    public var resend: Bool
    public var created: Int
    /// Users an interrupted run had created, found in the target and linked.
    public var adopted: Int
    public var resent: Int
    public var held: Int
    public var failed: Int
    public var skipped: Int
    public var limitReached: Bool

    public var json: [String: JSONValue] {
        [
            "campaign": JSONValue(campaign), "reconciliation_run": JSONValue(reconciliationRun), "mode": .string(mode.rawValue),
            "resend": .bool(resend), "created": .number(Double(created)), "adopted": .number(Double(adopted)),
            "resent": .number(Double(resent)), "held": .number(Double(held)), "failed": .number(Double(failed)),
            "skipped": .number(Double(skipped)), "limit_reached": .bool(limitReached),
        ]
    }
}
