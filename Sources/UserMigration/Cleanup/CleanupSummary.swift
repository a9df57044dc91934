public import Foundation
public import IdentityMap
import Support

/// What one `campaign cleanup` run did: the CLI prints it as a table or JSON, and its counts go
/// into the run's `campaign_cleanup_completed` event. Users are named by stable ID, pool and sub,
/// never by username or email.
public struct CleanupSummary: Sendable, Equatable {
    /// One source user the run disabled or deleted (or, dry, would have).
    public struct User: Sendable, Equatable {
        public var person: UUID
        public var pool: PoolID
        public var sub: String
    }

    /// One source user Cognito refused to clean, and its code (an AWS error type).
    public struct Failure: Sendable, Equatable {
        public var user: User
        public var code: String
    }

    /// One source user the run was about to clean and left alone: read again right before its
    /// Cognito call, it no longer qualified (a finding opened, an unlink… during the run).
    public struct Skip: Sendable, Equatable {
        public var user: User
        public var reason: CleanupSkip
    }

    /// At most this many users are listed; the counts are always whole.
    public static let listLimit = 1_000

    public var campaign: UUID
    public var mode: CleanupMode
    public var dryRun: Bool
    /// `--older-than`, in seconds.
    public var olderThan: TimeInterval
    /// The reconciliation whose findings held people back; nil when the campaign has none (dry runs only).
    public var reconciliationRun: UUID?
    public var reconciledAt: Date?
    /// Users disabled (deleted) by this run, `--resume`'s settled ones included.
    public var cleaned = 0
    /// `--resume`: users an interrupted run had cleaned, found so in the pool and recorded.
    public var settled = 0
    /// `--dry-run`: the users a real run would clean.
    public var wouldClean = 0
    /// Who was cleaned (or would be), the first ``listLimit``.
    public var users: [User] = []
    /// Every user left alone, by reason, the re-checked ones too.
    public var skipped: [CleanupSkip: Int] = [:]
    /// Users the re-check right before their Cognito call left alone (also counted in
    /// ``skipped``), the first ``listLimit``.
    public var skippedOnRecheck: [Skip] = []
    /// How many the re-check left alone, all of them.
    public var skippedOnRecheckCount = 0
    public var failedCount = 0
    public var failed: [Failure] = []
    public var limitReached = false
    public var warnings: [String] = []

    public init(campaign: UUID, mode: CleanupMode, dryRun: Bool, olderThan: TimeInterval) {
        self.campaign = campaign
        self.mode = mode
        self.dryRun = dryRun
        self.olderThan = olderThan
    }

    public var skippedTotal: Int { skipped.values.reduce(0, +) }

    mutating func record(_ outcome: CleanupOutcome) {
        switch outcome {
        case .cleaned(let user, let settled):
            cleaned += 1
            if settled { self.settled += 1 }
            if users.count < Self.listLimit { users.append(user) }
        case .wouldClean(let user):
            wouldClean += 1
            if users.count < Self.listLimit { users.append(user) }
        case .skipped(let reason):
            skipped[reason, default: 0] += 1
        case .skippedOnRecheck(let user, let reason):
            skipped[reason, default: 0] += 1
            skippedOnRecheckCount += 1
            if skippedOnRecheck.count < Self.listLimit { skippedOnRecheck.append(Skip(user: user, reason: reason)) }
        case .failed(let user, let code):
            failedCount += 1
            if failed.count < Self.listLimit { failed.append(Failure(user: user, code: code)) }
        case .limitReached:
            limitReached = true
        case .ignored:
            break
        }
    }

    /// The summary as JSON (`--format json`): every skip reason present.
    public var json: [String: JSONValue] {
        func user(_ user: User) -> [String: JSONValue] {
            ["user_id": JSONValue(user.person), "pool": .string(user.pool.rawValue), "sub": .string(user.sub)]
        }
        var json: [String: JSONValue] = [
            "campaign": JSONValue(campaign), "mode": .string(mode.rawValue), "dry_run": .bool(dryRun),
            "older_than_seconds": .number(olderThan), "cleaned": .number(Double(cleaned)), "settled": .number(Double(settled)),
            "would_clean": .number(Double(wouldClean)),
            "skipped": .object(
                Dictionary(uniqueKeysWithValues: CleanupSkip.allCases.map { ($0.rawValue, JSONValue.number(Double(skipped[$0] ?? 0))) })),
            "failed_count": .number(Double(failedCount)), "limit_reached": .bool(limitReached),
            "users": .array(users.map { .object(user($0)) }),
            "failed": .array(failed.map { failure in .object(user(failure.user).merging(["code": .string(failure.code)]) { $1 }) }),
            "skipped_on_recheck": .array(
                skippedOnRecheck.map { skip in .object(user(skip.user).merging(["reason": .string(skip.reason.rawValue)]) { $1 }) }),
            "warnings": .array(warnings.map(JSONValue.string)),
        ]
        if let reconciliationRun { json["reconciliation_run"] = JSONValue(reconciliationRun) }
        if let reconciledAt { json["reconciled_at"] = .string(RFC3339.format(reconciledAt)) }
        return json
    }
}

extension CleanupSummary: PagedRunTally {
    typealias Outcome = CleanupOutcome

    var progressDetail: String { "\(dryRun ? "would clean" : "cleaned") \(dryRun ? wouldClean : cleaned), skipped \(skippedTotal)" }
}

/// What the clean-up did with one source user.
enum CleanupOutcome: Sendable {
    /// Disabled or deleted; `settled`: found done by `--resume` (an interrupted run's call).
    case cleaned(CleanupSummary.User, settled: Bool)
    case wouldClean(CleanupSummary.User)
    case skipped(CleanupSkip)
    /// Planned, then left alone by the re-check right before the Cognito call.
    case skippedOnRecheck(CleanupSummary.User, CleanupSkip)
    case failed(CleanupSummary.User, code: String)
    case limitReached
    /// Not this run's to count (`--resume`: a row whose call never happened, taken up again by the pass).
    case ignored
}
