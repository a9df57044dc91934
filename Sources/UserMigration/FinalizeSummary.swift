public import Foundation
public import IdentityMap
import Support

/// What one `campaign finalize` run did: the CLI prints it as a table or JSON, and its counts go
/// into the run's event. People are named by their stable ID only, never by email or username.
public struct FinalizeSummary: Sendable, Equatable {
    /// One person left for a person to look at, and why.
    public struct Failure: Sendable, Equatable {
        public var person: UUID
        /// An AWS error type or finalize's own code.
        public var code: String
    }

    /// At most this many held and failed people are listed; the counts are always whole.
    public static let listLimit = 1_000

    public var campaign: UUID
    public var mode: FinalizeMode
    public var resend: Bool
    public var dryRun: Bool
    public var reconciliationRun: UUID
    public var reconciledAt: Date
    public var created = 0
    public var adopted = 0
    public var resent = 0
    /// `--dry-run`: the users a real run would create (or resend to, or export).
    public var wouldCreate = 0
    /// `--dry-run`: who they are, by stable ID (the first ``listLimit``).
    public var wouldList: [UUID] = []
    /// Invitations sent (created or resent) by medium: `EMAIL`, `SMS`.
    public var deliveries: [String: Int] = [:]
    /// `--resend`: only invitations sent at least this many seconds ago.
    public var resendOlderThan: TimeInterval?
    /// CSV: users written to the files.
    public var exported = 0
    public var skipped: [FinalizeSkip: Int] = [:]
    public var heldCount = 0
    public var held: [FinalizeHold] = []
    public var failedCount = 0
    public var failed: [Failure] = []
    public var limitReached = false
    /// CSV: the files written, and where the header came from.
    public var files: [String] = []
    public var headerSource: String?
    public var warnings: [String] = []

    public init(campaign: UUID, mode: FinalizeMode, resend: Bool, dryRun: Bool, reconciliationRun: UUID, reconciledAt: Date) {
        self.campaign = campaign
        self.mode = mode
        self.resend = resend
        self.dryRun = dryRun
        self.reconciliationRun = reconciliationRun
        self.reconciledAt = reconciledAt
    }

    public var skippedTotal: Int { skipped.values.reduce(0, +) }

    mutating func record(_ outcome: FinalizeOutcome) {
        switch outcome {
        case .created(let delivery):
            created += 1
            if let delivery { deliveries[delivery, default: 0] += 1 }
        case .adopted: adopted += 1
        case .resent(let delivery):
            resent += 1
            deliveries[delivery, default: 0] += 1
        case .wouldCreate(let person):
            wouldCreate += 1
            if wouldList.count < Self.listLimit { wouldList.append(person) }
        case .exported: exported += 1
        case .skipped(let reason): skipped[reason, default: 0] += 1
        case .held(let hold):
            heldCount += 1
            if held.count < Self.listLimit { held.append(hold) }
        case .failed(let person, let code):
            failedCount += 1
            if failed.count < Self.listLimit { failed.append(Failure(person: person, code: code)) }
        case .limitReached:
            limitReached = true
        case .ignored:
            break
        }
    }

    /// The summary as JSON (`--format json`).
    public var json: [String: JSONValue] {
        var json: [String: JSONValue] = [
            "campaign": JSONValue(campaign), "mode": .string(mode.rawValue), "resend": .bool(resend), "dry_run": .bool(dryRun),
            "reconciliation_run": JSONValue(reconciliationRun), "reconciled_at": .string(RFC3339.format(reconciledAt)),
            "created": .number(Double(created)), "adopted": .number(Double(adopted)), "resent": .number(Double(resent)),
            "would_create": .number(Double(wouldCreate)), "exported": .number(Double(exported)),
            "skipped": .object(
                Dictionary(uniqueKeysWithValues: FinalizeSkip.allCases.map { ($0.rawValue, JSONValue.number(Double(skipped[$0] ?? 0))) })),
            "held_count": .number(Double(heldCount)), "failed_count": .number(Double(failedCount)), "limit_reached": .bool(limitReached),
            "held": .array(
                held.map { hold in
                    JSONValue.object([
                        "user_id": JSONValue(hold.person), "reasons": .array(hold.reasons.map(JSONValue.string)),
                        "findings": .array(hold.findings.map { JSONValue.number(Double($0)) }),
                    ])
                }),
            "failed": .array(failed.map { JSONValue.object(["user_id": JSONValue($0.person), "code": .string($0.code)]) }),
            "files": .array(files.map(JSONValue.string)),
            "warnings": .array(warnings.map(JSONValue.string)),
            "would_list": .array(wouldList.map(JSONValue.init)),
            "deliveries": .object(deliveries.mapValues { JSONValue.number(Double($0)) }),
        ]
        if let headerSource { json["header_source"] = .string(headerSource) }
        if let resendOlderThan { json["resend_older_than_seconds"] = .number(resendOlderThan) }
        return json
    }
}

/// What finalize did with one person.
enum FinalizeOutcome: Sendable {
    /// `delivery`: the medium Cognito sends the invitation by (invite); nil without one.
    case created(delivery: String?)
    /// Found created by an interrupted run (or a retried call) and linked.
    case adopted
    case resent(delivery: String)
    /// `--dry-run`: the person a real run would create, export or resend to.
    case wouldCreate(UUID)
    case exported
    case skipped(FinalizeSkip)
    case held(FinalizeHold)
    case failed(UUID, code: String)
    case limitReached
    /// Not this run's to count (a person exported from another of their source accounts).
    case ignored
}

extension FinalizeSummary: PagedRunTally {
    typealias Outcome = FinalizeOutcome

    var progressDetail: String { "created \(created + adopted), held \(heldCount)" }
}
