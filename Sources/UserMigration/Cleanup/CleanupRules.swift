public import Foundation
public import IdentityMap

/// What `stableid campaign cleanup` does to a source user whose person has moved.
public enum CleanupMode: String, Sendable, CaseIterable {
    /// `AdminDisableUser`: the user can no longer sign in; an administrator can enable them again.
    case disable
    /// `AdminDeleteUser`: gone from the source pool for good.
    case delete

    /// The identity's status in the map once Cognito has done it.
    public var identityStatus: IdentityStatus { self == .disable ? .disabled : .deleted }

    /// The statuses of a source identity the mode may change: a disabled user may still be deleted.
    var fromStatuses: [IdentityStatus] { self == .disable ? [.active] : [.active, .disabled] }
}

/// Why the clean-up left a source user alone. The raw values are the summary's and the event's keys.
public enum CleanupSkip: String, Sendable, CaseIterable, Comparable {
    /// The person's target identity has no recorded sign-in: the new account may not work for them.
    case notSignedInTarget = "not_signed_in_target"
    /// Their first recorded sign-in in the target is more recent than `--older-than`.
    case tooRecent = "too_recent"
    /// The person has an open `duplicate` finding of the campaign: for a person to look at first.
    case flaggedDuplicate = "flagged_duplicate"
    /// The person has an open `conflict` finding of the campaign.
    case flaggedConflict = "flagged_conflict"
    /// The source user is not in the campaign's subset (judged now).
    case outsideSubset = "outside_subset"
    /// The source user changed (`UserLastModifiedDate`) after the target identity was linked: a
    /// person looks first (or the pool does not say when it changed).
    case changedAfterMigration = "changed_after_migration"
    /// The source user is gone, already disabled (`--mode disable`), or its username is another
    /// user's now.
    case alreadyGone = "already_gone"
    /// Another run is cleaning this user (its row is `cleaning`: `--resume` settles it).
    case inProgress = "in_progress"
    /// Read again on the primary right before its Cognito call (``CleanupRules/recheck(_:planned:source:mode:inSubset:)``),
    /// the map no longer has what chose the user: the source identity is no longer active (or
    /// disabled, for `--mode delete`), its person no longer active or no longer has an active
    /// identity in the target, or the identity now names another person or username (an
    /// unlink, a merge, an erasure during the run). A later run judges the user again.
    case changedDuringRun = "changed_during_run"

    public static func < (lhs: CleanupSkip, rhs: CleanupSkip) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// A source identity whose person has an active identity in the campaign's target, as the
/// clean-up reads it from the map a page at a time.
struct CleanupCandidate: Sendable, Equatable {
    /// `identities.id` of the source identity: the page cursor and the `cleanup_users` key.
    var identity: Int64
    var pool: PoolID
    var sub: String
    /// The source username (to ask the pool); personal data, never printed.
    var username: String
    /// The survivor.
    var person: UUID
    /// When the target identity the clean-up judges by was linked (the earliest that signed in).
    var targetLinkedAt: Date
    /// Its first recorded sign-in; nil: none recorded.
    var firstSignIn: Date?
    /// The first sign-in is at least `--older-than` old, by the database's clock.
    var signedInLongEnough: Bool
    /// The campaign's member file lists the source user (true without a member file).
    var listed: Bool
    /// The person's `cleanup_users` row of the campaign, if any.
    var rowState: CleanupRowState?
    var rowMode: CleanupMode?
    /// When the row last changed (for a `done` disable: just after the clean-up disabled the user).
    var rowUpdatedAt: Date?
    /// The person's open `duplicate` and `conflict` findings of the campaign as the query read
    /// them (``FinalizeStore/holdFindings(scope:)``); nil: none.
    var hold: FinalizeHold? = nil

    /// Changes of the source user after this moment make the clean-up stop and leave it to a
    /// person: the target link, or — for a user this clean-up disabled before and now deletes —
    /// that disabling (which Cognito counts as a change).
    var changesCountSince: Date {
        guard rowState == .done, rowMode == .disable, let rowUpdatedAt else { return targetLinkedAt }
        return max(targetLinkedAt, rowUpdatedAt)
    }
}

/// `cleanup_users.state` (sql/0025).
enum CleanupRowState: String, Sendable {
    /// Written before the Cognito call: the user may or may not be disabled (deleted) yet.
    case cleaning
    /// Cognito did it, and the map says so.
    case done
    /// Cognito refused (`last_error`), or an interrupted call turned out never to have happened:
    /// taken up again by the next pass.
    case failed
}

/// The source user as AdminGetUser answers at clean-up time.
struct CleanupSourceFacts: Sendable, Equatable {
    var sub: String?
    var enabled: Bool
    var lastModified: Date?
}

/// The clean-up's rules, pure: in two steps, so that users the map already rules out cost no
/// Cognito call, and both again over the map as it is right before the call.
enum CleanupRules {
    /// From the map alone: a row in progress or done, a hold, the member file, the sign-in.
    static func beforeReading(_ candidate: CleanupCandidate, mode: CleanupMode) -> CleanupSkip? {
        switch candidate.rowState {
        case .cleaning?: return .inProgress
        case .done? where candidate.rowMode == mode || candidate.rowMode == .delete: return .alreadyGone
        case .done?, .failed?, nil: break
        }
        if let hold = candidate.hold {
            if hold.reasons.contains("duplicate") { return .flaggedDuplicate }
            if hold.reasons.contains("conflict") { return .flaggedConflict }
        }
        if !candidate.listed { return .outsideSubset }
        guard candidate.firstSignIn != nil else { return .notSignedInTarget }
        guard candidate.signedInLongEnough else { return .tooRecent }
        return nil
    }

    /// From the source user as the pool has it now (nil: no such user): gone, outside the subset,
    /// changed since the migration. Nil: clean it.
    static func afterReading(
        _ source: CleanupSourceFacts?, candidate: CleanupCandidate, mode: CleanupMode, inSubset: Bool
    ) -> CleanupSkip? {
        guard let source else { return .alreadyGone }
        // The username now names another user of the pool: this identity's user was deleted.
        guard source.sub.flatMap(CognitoSub.canonical) == CognitoSub.canonical(candidate.sub) else { return .alreadyGone }
        if mode == .disable, !source.enabled { return .alreadyGone }
        guard inSubset else { return .outsideSubset }
        // Changed after its person's new account was linked (a new email, a re-enabled account):
        // whatever it was, a person decides. A pool that does not say when is treated the same.
        guard let modified = source.lastModified, modified <= candidate.changesCountSince else { return .changedAfterMigration }
        return nil
    }

    /// Right before the Cognito call: the user as the same query reads them now, on the primary
    /// (`current`; nil when the query no longer finds the source identity at all), judged by the
    /// same two rules with the source user already read. A run reads its pages long before its
    /// last call — at the `UserResourceUpdate` quota a million users take half a day — and a
    /// finding opened, a hold, an unlink, a merge or an erasure in between must still keep the
    /// user. Nil: clean it.
    static func recheck(
        _ current: CleanupCandidate?, planned: CleanupCandidate, source: CleanupSourceFacts?, mode: CleanupMode, inSubset: Bool
    ) -> CleanupSkip? {
        guard let current, current.person == planned.person, current.pool == planned.pool, current.sub == planned.sub,
            current.username == planned.username
        else { return .changedDuringRun }
        return beforeReading(current, mode: mode) ?? afterReading(source, candidate: current, mode: mode, inSubset: inSubset)
    }
}
