public import Foundation
public import IdentityMap

/// What the map says of one Cognito user of the stamped pool: its identity `(pool, sub)` and the
/// person it belongs to, read for a whole ListUsers page at once (``StampStore/facts(pool:subs:run:)``).
public struct StampMapFact: Sendable, Equatable {
    /// The survivor of the identity's user (``Person/survivor(of:)``): never a merged ID.
    public var person: UUID
    public var personStatus: UserStatus
    public var identityStatus: IdentityStatus
    /// This run wrote the user and recorded it (`user_stamped`) before it was interrupted.
    public var stampedByRun: Bool

    public init(person: UUID, personStatus: UserStatus, identityStatus: IdentityStatus, stampedByRun: Bool = false) {
        self.person = person
        self.personStatus = personStatus
        self.identityStatus = identityStatus
        self.stampedByRun = stampedByRun
    }
}

/// What `stableid stamp` does with one Cognito user: a pure decision, tested without Cognito.
public enum StampDecision: Sendable, Equatable {
    /// No identity of the map holds the sub (or it was unlinked from its user): left alone.
    case unmapped
    /// The identity is disabled or deleted in the map, its person deleted, or the Cognito user
    /// disabled: left alone (a disabled user gets no tokens; the next run after it is enabled
    /// again stamps it).
    case inactive
    /// The attribute already holds the person's ID.
    case alreadyRight
    /// Already right, written and recorded by this very run before an interruption: counted then.
    case alreadyCounted
    /// Write `person` (lower-case) over `current`.
    case change(person: UUID)

    /// `current` is the attribute as ListUsers returned it (nil when the user has none); `enabled`
    /// the user's `Enabled`; `fact` the map's answer for the user's sub (nil: none, or no valid sub).
    ///
    /// The comparison is exact: an upper-case spelling of the right UUID is rewritten, so that
    /// every token carries the one form resolve answers.
    public static func decide(enabled: Bool?, current: String?, fact: StampMapFact?) -> StampDecision {
        guard let fact, fact.identityStatus != .unlinked else { return .unmapped }
        guard fact.identityStatus == .active, fact.personStatus == .active, enabled != false else { return .inactive }
        guard current != value(of: fact.person) else { return fact.stampedByRun ? .alreadyCounted : .alreadyRight }
        return .change(person: fact.person)
    }

    /// The attribute's text for `person`.
    public static func value(of person: UUID) -> String { person.uuidString.lowercased() }
}
