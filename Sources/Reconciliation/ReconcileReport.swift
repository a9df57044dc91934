public import Foundation
import Support

/// What `stableid reconcile --format json` prints and `GET /v1/reconciliation/runs` lists: the
/// run, then open findings per kind after it (`counts`), and what it opened (`new`) and resolved.
/// JSON keys are snake_case, ids lower-case, times RFC 3339 (DESIGN §3).
public struct ReconcileReport: Sendable, Equatable, Codable {
    public struct Run: Sendable, Equatable, Codable {
        public var id: UUID
        public var scope: String
        public var campaignID: UUID?
        public var pools: [String]
        public var source: ReconcileSource
        public var status: ReconcileRunStatus
        public var actor: String
        public var startedAt: Date
        public var finishedAt: Date?
        /// Users read per pool (distinct subs).
        public var scanned: [String: Int]
        /// Why a failed run failed.
        public var error: String?

        public init(
            id: UUID, scope: String, campaignID: UUID?, pools: [String], source: ReconcileSource, status: ReconcileRunStatus,
            actor: String, startedAt: Date, finishedAt: Date?, scanned: [String: Int], error: String? = nil
        ) {
            self.id = id
            self.scope = scope
            self.campaignID = campaignID
            self.pools = pools
            self.source = source
            self.status = status
            self.actor = actor
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.scanned = scanned
            self.error = error
        }

        enum CodingKeys: String, CodingKey {
            case id, scope, pools, source, status, actor, scanned, error
            case campaignID = "campaign_id"
            case startedAt = "started_at"
            case finishedAt = "finished_at"
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.requireID(forKey: .id)
            scope = try container.decode(String.self, forKey: .scope)
            campaignID = try container.decodeID(forKey: .campaignID)
            pools = try container.decode([String].self, forKey: .pools)
            source = try container.decode(ReconcileSource.self, forKey: .source)
            status = try container.decode(ReconcileRunStatus.self, forKey: .status)
            actor = try container.decode(String.self, forKey: .actor)
            startedAt = try container.requireTime(forKey: .startedAt)
            finishedAt = try container.decodeTime(forKey: .finishedAt)
            scanned = try container.decode([String: Int].self, forKey: .scanned)
            error = try container.decodeIfPresent(String.self, forKey: .error)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeID(id, forKey: .id)
            try container.encode(scope, forKey: .scope)
            try container.encodeID(campaignID, forKey: .campaignID)
            try container.encode(pools, forKey: .pools)
            try container.encode(source, forKey: .source)
            try container.encode(status, forKey: .status)
            try container.encode(actor, forKey: .actor)
            try container.encodeTime(startedAt, forKey: .startedAt)
            try container.encodeTime(finishedAt, forKey: .finishedAt)
            try container.encode(scanned, forKey: .scanned)
            try container.encodeIfPresent(error, forKey: .error)
        }
    }

    public var run: Run
    /// Open findings of the run's scope per kind after the run (and its fixes, when applied).
    public var counts: FindingCounts
    /// Findings the run opened, or opened again after they had been resolved.
    public var new: FindingCounts
    public var resolved: FindingCounts
    /// Things the operator should know (an empty pool snapshot, records without a valid sub).
    public var warnings: [String]
    /// Present when the run was asked to fix findings.
    public var fixes: FixReport?

    public init(
        run: Run, counts: FindingCounts, new: FindingCounts, resolved: FindingCounts, warnings: [String] = [], fixes: FixReport? = nil
    ) {
        self.run = run
        self.counts = counts
        self.new = new
        self.resolved = resolved
        self.warnings = warnings
        self.fixes = fixes
    }

    /// Open findings of these kinds, for `--fail-on KIND…` (exit 1 when positive).
    public func open(of kinds: Set<FindingKind>) -> Int {
        kinds.reduce(0) { $0 + counts[$1] }
    }
}

public enum ReconcileRunStatus: String, Sendable, Codable, Equatable {
    case running, completed, failed
}

/// What `--fix` did, or with a dry run would do: per kind, findings fixed and findings of that
/// kind left open; and the first actions, so an operator can review a dry run.
public struct FixReport: Sendable, Equatable, Codable {
    public struct Outcome: Sendable, Equatable, Codable {
        public var fixed = 0
        /// Open findings of the kind this run saw that were not fixed (no safe fix, changed
        /// concurrently, or held back by a guard — see `warnings`).
        public var skipped = 0

        public init(fixed: Int = 0, skipped: Int = 0) {
            self.fixed = fixed
            self.skipped = skipped
        }
    }

    public var dryRun: Bool
    /// By kind (`stale`, `orphaned`, `unmapped`): only the kinds asked for.
    public var outcomes: [String: Outcome]
    public var actions: [FixAction]
    /// More actions were taken than ``FixReport/maxActions`` listed.
    public var actionsTruncated: Bool
    public var warnings: [String]

    /// Actions listed in a report; the counts cover all of them.
    public static let maxActions = 1_000

    public init(
        dryRun: Bool, outcomes: [String: Outcome] = [:], actions: [FixAction] = [], actionsTruncated: Bool = false,
        warnings: [String] = []
    ) {
        self.dryRun = dryRun
        self.outcomes = outcomes
        self.actions = actions
        self.actionsTruncated = actionsTruncated
        self.warnings = warnings
    }

    enum CodingKeys: String, CodingKey {
        case outcomes, actions, warnings
        case dryRun = "dry_run"
        case actionsTruncated = "actions_truncated"
    }

    public var fixed: Int { outcomes.values.reduce(0) { $0 + $1.fixed } }
}

/// One fix: the finding it fixes and what was (or would be) done.
public struct FixAction: Sendable, Equatable, Codable {
    public var finding: Int64
    public var kind: FindingKind
    /// `refresh` (stale), `mark_deleted` (orphaned) or `link` (unmapped).
    public var action: String
    public var pool: String?
    public var sub: String?
    /// The identity's person; for `link`, the person linked to.
    public var userID: UUID?
    /// `active → disabled`, `email, email_verified`, …
    public var detail: String?

    public init(
        finding: Int64, kind: FindingKind, action: String, pool: String?, sub: String?, userID: UUID?, detail: String? = nil
    ) {
        self.finding = finding
        self.kind = kind
        self.action = action
        self.pool = pool
        self.sub = sub
        self.userID = userID
        self.detail = detail
    }

    enum CodingKeys: String, CodingKey {
        case finding, kind, action, pool, sub, detail
        case userID = "user_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        finding = try container.decode(Int64.self, forKey: .finding)
        kind = try container.decode(FindingKind.self, forKey: .kind)
        action = try container.decode(String.self, forKey: .action)
        pool = try container.decodeIfPresent(String.self, forKey: .pool)
        sub = try container.decodeIfPresent(String.self, forKey: .sub)
        userID = try container.decodeID(forKey: .userID)
        detail = try container.decodeIfPresent(String.self, forKey: .detail)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(finding, forKey: .finding)
        try container.encode(kind, forKey: .kind)
        try container.encode(action, forKey: .action)
        try container.encodeIfPresent(pool, forKey: .pool)
        try container.encodeIfPresent(sub, forKey: .sub)
        try container.encodeID(userID, forKey: .userID)
        try container.encodeIfPresent(detail, forKey: .detail)
    }
}

// MARK: Ids and times the way every StableID answer spells them

extension KeyedEncodingContainer {
    /// Lower case, as Cognito and the rest of the API write UUIDs (Foundation would upper-case).
    mutating func encodeID(_ id: UUID?, forKey key: Key) throws {
        try encodeIfPresent(id.map { $0.uuidString.lowercased() }, forKey: key)
    }

    mutating func encodeTime(_ date: Date?, forKey key: Key) throws {
        try encodeIfPresent(date.map { RFC3339.format($0) }, forKey: key)
    }
}

extension KeyedDecodingContainer {
    func decodeID(forKey key: Key) throws -> UUID? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let id = UUID(uuidString: text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not a UUID")
        }
        return id
    }

    func requireID(forKey key: Key) throws -> UUID {
        guard let id = try decodeID(forKey: key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return id
    }

    func decodeTime(forKey key: Key) throws -> Date? {
        guard let text = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let date = RFC3339.parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "not an RFC 3339 time")
        }
        return date
    }

    func requireTime(forKey key: Key) throws -> Date {
        guard let date = try decodeTime(forKey: key) else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
        }
        return date
    }
}
