public import Foundation
public import IdentityMap

/// What a reconciliation run concludes about one subject, decided from the facts the run's SQL
/// gathered for it. Pure: no rule looks anything up, so every rule is tested without a database.
///
/// The split with SQL (``ReconcileClassifier``): the database does the bulk matching — joins the
/// snapshot with the map, follows merges, finds the person's identity in the target pool, the
/// user the stable-ID attribute names, the identity a recreated user replaced — and keeps only
/// *candidates*, rows where some rule here could fire (a superset: a candidate may well yield
/// nothing). These rules then decide the kinds and the evidence. A subject whose facts all agree
/// must give no finding; the tests pin that down, which is what keeps the SQL prefilter honest.
public enum ReconcileRules {
    /// The part a pool plays in the run's scope.
    public enum PoolRole: String, Sendable, Equatable {
        /// A campaign's source pool: its enabled users are expected to migrate.
        case source
        /// A campaign's target pool.
        case target
        /// A pool of a run without a campaign.
        case other
    }

    /// One finding as a rule decides it; the run upserts it into `findings` by (kind, subject).
    public struct DetectedFinding: Sendable, Equatable {
        public var kind: FindingKind
        /// The finding's stable key within its kind (see the `subject(…)` functions).
        public var subject: String
        public var pool: PoolID?
        public var sub: String?
        public var userID: UUID?
        /// Facts an operator needs to act, `reason` first among them. No emails or usernames.
        public var evidence: [String: JSONValue]

        public init(
            kind: FindingKind, subject: String, pool: PoolID? = nil, sub: String? = nil, userID: UUID? = nil,
            evidence: [String: JSONValue]
        ) {
            self.kind = kind
            self.subject = subject
            self.pool = pool
            self.sub = sub
            self.userID = userID
            self.evidence = evidence
        }

        public var reason: String? { evidence["reason"]?.stringValue }
    }

    // MARK: Subjects

    /// Prefixes of the subjects that name a person's account (a verified email by digest, a
    /// federated account); see ``isPersonal(subject:)``.
    public static let emailSubjectPrefix = "email:"
    public static let federatedSubjectPrefix = "federated:"

    public static func subject(pool: PoolID, sub: String) -> String { "\(pool.rawValue)/\(sub)" }
    public static func subject(person: UUID) -> String { "user:\(person.uuidString.lowercased())" }
    public static func subject(person: UUID, pool: PoolID) -> String { "user:\(person.uuidString.lowercased())/\(pool.rawValue)" }
    public static func subject(_ key: SharedAccountEvidence.Key) -> String {
        switch key {
        case .verifiedEmail(let digest): return emailSubjectPrefix + digest
        case .federated(let provider, let userID): return "\(federatedSubjectPrefix)\(provider):\(userID)"
        }
    }

    /// Whether a subject names a person's account rather than an id events carry anyway. An
    /// email digest is unsalted (a list of addresses reverses it) and a federated user id is the
    /// provider's own key for the person: such subjects stay out of immutable event details.
    public static func isPersonal(subject: String) -> Bool {
        subject.hasPrefix(emailSubjectPrefix) || subject.hasPrefix(federatedSubjectPrefix)
    }
}
