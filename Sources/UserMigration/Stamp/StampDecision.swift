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

/// Why `stableid stamp` removes a user's attribute (`stable_id_attribute_cleared`'s `reason`).
public enum StampClearReason: String, Sendable, CaseIterable {
    /// No identity of the map holds the sub.
    case notInMap = "not_in_map"
    /// The identity was unlinked from its person: the map resolves it to nobody.
    case unlinked
    /// The identity's person is deleted.
    case personDeleted = "person_deleted"
    /// Mapped, but inactive (disabled or deleted identity, disabled Cognito user), and the value is
    /// not its person's ID: someone else's, or text that is no stable ID.
    case notThePerson = "not_the_person"
}

/// What `stableid stamp` does with one Cognito user: a pure decision, tested without Cognito.
///
/// The rule: a user's attribute holds its own person's ID or nothing, because a backend that
/// trusts the claim hands the token's holder that person's data. So an active mapped user is
/// written; a user with no active mapping (not in the map, unlinked, its person deleted) loses any
/// value; an inactive mapped user (its identity disabled or deleted in the map, or disabled in
/// Cognito) is never written — it gets no tokens, and the run after it is enabled again stamps it —
/// but loses a value that is not its person's, since an identity can be enabled again (in Cognito,
/// or by reconciliation) before any run sees it. Its own person's ID it keeps: that is who the map
/// (and the pre token generation trigger) says it is.
public enum StampDecision: Sendable, Equatable {
    /// No active mapping and no value (or, with `keepUnmapped`, a sub the map does not hold at all):
    /// left alone.
    case unmapped
    /// Mapped but inactive, with no value or its person's own: left alone.
    case inactive
    /// The attribute already holds the person's ID.
    case alreadyRight
    /// Already as this very run left it, written or cleared and recorded before an interruption:
    /// counted then.
    case alreadyCounted
    /// Write `person` (lower-case) over `current`.
    case change(person: UUID)
    /// Remove the attribute. `person` is the identity's person when the map holds the sub (the
    /// event's user), nil when it does not.
    case clear(reason: StampClearReason, person: UUID?)

    /// `current` is the attribute as ListUsers returned it (nil when the user has none); `enabled`
    /// the user's `Enabled`; `fact` the map's answer for the user's sub (nil: none, or no valid sub).
    /// `clearedByRun`: this run removed the user's value and recorded it before an interruption.
    /// `keepUnmapped`: a UUID value of a sub the map does not hold is link evidence, not a claim — the
    /// pool is the target of a campaign whose triggers link a new sub to the person its attribute
    /// names (``TriggerLinkRules``), as the users `campaign finalize --mode csv` made await their
    /// first sign-in. Unlinked identities are cleared all the same: the trigger leaves them unlinked.
    ///
    /// The comparison for writing is exact: an upper-case spelling of the right UUID is rewritten,
    /// so that every token carries the one form resolve answers. An inactive user keeps any spelling
    /// of its person's ID (it is not written).
    public static func decide(
        enabled: Bool?, current: String?, fact: StampMapFact?, clearedByRun: Bool = false, keepUnmapped: Bool = false
    ) -> StampDecision {
        let holds = !(current ?? "").isEmpty
        guard let fact else {
            // Only a UUID is evidence the trigger can link by; any other text is a claim with
            // nothing behind it, and goes.
            let evidence = keepUnmapped && current.flatMap(UUID.init(uuidString:)) != nil
            if holds { return evidence ? .unmapped : .clear(reason: .notInMap, person: nil) }
            return clearedByRun ? .alreadyCounted : .unmapped
        }
        guard fact.identityStatus != .unlinked else {
            if holds { return .clear(reason: .unlinked, person: fact.person) }
            return clearedByRun ? .alreadyCounted : .unmapped
        }
        guard fact.personStatus == .active else {
            if holds { return .clear(reason: .personDeleted, person: fact.person) }
            return clearedByRun ? .alreadyCounted : .inactive
        }
        guard fact.identityStatus == .active, enabled != false else {
            if holds, current.flatMap(UUID.init(uuidString:)) != fact.person {
                return .clear(reason: .notThePerson, person: fact.person)
            }
            if holds { return .inactive }
            return clearedByRun ? .alreadyCounted : .inactive
        }
        guard current != value(of: fact.person) else { return fact.stampedByRun ? .alreadyCounted : .alreadyRight }
        return .change(person: fact.person)
    }

    /// The attribute's text for `person`.
    public static func value(of person: UUID) -> String { person.uuidString.lowercased() }
}
