public import Foundation
public import IdentityMap

/// One row of `finalize_users` (sql/0017): a person finalize is creating, created, or gave up on
/// in the target pool.
public struct FinalizeRecord: Sendable, Equatable {
    public enum State: String, Sendable {
        /// Written before AdminCreateUser: the user may or may not exist in the target.
        case creating
        /// Created (or found created) and linked in the map.
        case created
        /// Left for a person: the username is someone else's in the target, or the new sub is.
        case held
        /// Cognito refused the user for a reason of its own (`last_error`); tried again next run.
        case failed
    }

    public var person: UUID
    public var sourcePool: PoolID
    public var sourceSub: String
    public var mode: FinalizeMode
    public var state: State
    /// The username sent to AdminCreateUser (personal data); nil once the person was erased.
    public var targetUsername: String?
    public var targetSub: String?
    public var lastError: String?

    public init(
        person: UUID, sourcePool: PoolID, sourceSub: String, mode: FinalizeMode, state: State, targetUsername: String?,
        targetSub: String? = nil, lastError: String? = nil
    ) {
        self.person = person
        self.sourcePool = sourcePool
        self.sourceSub = sourceSub
        self.mode = mode
        self.state = state
        self.targetUsername = targetUsername
        self.targetSub = targetSub
        self.lastError = lastError
    }
}

/// A person of the unmigrated set, as finalize reads them a page at a time.
struct FinalizeCandidate: Sendable {
    /// The `unmigrated` finding (the page cursor).
    var finding: Int64
    /// The survivor.
    var person: UUID
    var sourcePool: PoolID
    var sourceSub: String
    /// The source identity's username while it is still this person's active identity; nil
    /// otherwise (unlinked, deleted, or moved to another person since the reconciliation).
    var sourceUsername: String?
    /// The person has an active identity in the target now.
    var inTarget: Bool
    var record: FinalizeRecord?
}

/// Why a person is held back for a person to look at: open `duplicate` or `conflict` findings of
/// the campaign (by id), or what finalize itself found (`username_taken`, …).
public struct FinalizeHold: Sendable, Equatable {
    public var person: UUID
    /// `duplicate`, `conflict`, or finalize's own reason code.
    public var reasons: [String]
    public var findings: [Int64]

    public init(person: UUID, reasons: [String], findings: [Int64] = []) {
        self.person = person
        self.reasons = reasons
        self.findings = findings
    }
}

/// What one source user of a CSV export is, as one query for the whole batch says.
struct FinalizeCSVDecision: Sendable {
    var person: UUID
    var inTarget: Bool
    /// The user's identity is still this person's active one.
    var sourceActive: Bool
    /// This identity is the one the person is exported from (their lowest open `unmigrated`
    /// finding): a person with accounts in two sources is exported once.
    var chosen: Bool
}
