/// The kinds of finding a reconciliation run reports (DESIGN §6). The raw values are part of the
/// contract (`--fail-on`, `counts` in the report, the `findings.kind` column): never rename one.
public enum FindingKind: String, Sendable, CaseIterable, Codable, Comparable {
    /// An enabled user of a source pool (a member of the campaign's subset, when it has one) whose
    /// person has no active identity in the target pool.
    case unmigrated
    /// Such a user whose person has an active identity in the target pool of *another* campaign
    /// (moved elsewhere, or in two campaigns' subsets): a case for a person, so neither counted as
    /// remaining nor moved by finalize.
    case migratedElsewhere = "migrated_elsewhere"
    /// A Cognito user the map does not know.
    case unmapped
    /// An active identity whose Cognito user is gone; a person with no live identity left.
    case orphaned
    /// Two people sharing one verified email or federated account; one person with two active
    /// identities in one pool.
    case duplicate
    /// The pool's stable-ID attribute names another person than the map does.
    case conflict
    /// Email, verified flag or enabled state differ between the pool and the map.
    case stale

    public static func < (lhs: FindingKind, rhs: FindingKind) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Where a finding stands. `acknowledged` with an `ack_until` in the past counts as `open` again
/// wherever findings are read or counted, without a write: the deadline is the operator's.
public enum FindingState: String, Sendable, CaseIterable, Codable {
    case open, resolved, acknowledged
}

/// Findings per kind, always with every kind, so a JSON consumer never meets a missing key (and a
/// kind missing from what an older version stored reads as 0).
public struct FindingCounts: Sendable, Equatable, Codable {
    public var unmigrated = 0
    public var migratedElsewhere = 0
    public var unmapped = 0
    public var orphaned = 0
    public var duplicate = 0
    public var conflict = 0
    public var stale = 0

    public init() {}

    public init(_ counts: [FindingKind: Int]) {
        for (kind, count) in counts { self[kind] = count }
    }

    /// Keyed by each kind's raw value (`migrated_elsewhere`).
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        self.init()
        for kind in FindingKind.allCases {
            self[kind] = try container.decodeIfPresent(Int.self, forKey: Key(stringValue: kind.rawValue)) ?? 0
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        for kind in FindingKind.allCases { try container.encode(self[kind], forKey: Key(stringValue: kind.rawValue)) }
    }

    public subscript(kind: FindingKind) -> Int {
        get {
            switch kind {
            case .unmigrated: return unmigrated
            case .migratedElsewhere: return migratedElsewhere
            case .unmapped: return unmapped
            case .orphaned: return orphaned
            case .duplicate: return duplicate
            case .conflict: return conflict
            case .stale: return stale
            }
        }
        set {
            switch kind {
            case .unmigrated: unmigrated = newValue
            case .migratedElsewhere: migratedElsewhere = newValue
            case .unmapped: unmapped = newValue
            case .orphaned: orphaned = newValue
            case .duplicate: duplicate = newValue
            case .conflict: conflict = newValue
            case .stale: stale = newValue
            }
        }
    }

    public var total: Int { FindingKind.allCases.reduce(0) { $0 + self[$1] } }

    /// `{kind: n}` with every kind, as stored in `reconcile_runs` and event details.
    var dictionary: [String: Int] {
        Dictionary(uniqueKeysWithValues: FindingKind.allCases.map { ($0.rawValue, self[$0]) })
    }

    /// Reads `{kind: n}`; unknown keys are ignored and missing kinds count 0.
    init(dictionary: [String: Int]) {
        self.init()
        for (key, count) in dictionary {
            if let kind = FindingKind(rawValue: key) { self[kind] = count }
        }
    }
}
