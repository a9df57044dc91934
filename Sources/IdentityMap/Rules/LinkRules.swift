public import Foundation

/// The identity map's rules as pure functions of the rows a write found, so every decision and
/// refusal is testable without a database. The store loads the rows (locked), asks a rule, and
/// applies the answer; no rule ever looks anything up itself.
public enum LinkRules {
    /// What the map holds for a `(pool, sub)` when a link is asked for.
    public struct ExistingIdentity: Sendable, Equatable {
        public var owner: UUID
        public var status: IdentityStatus

        public init(owner: UUID, status: IdentityStatus) {
            self.owner = owner
            self.status = status
        }
    }

    public enum LinkDecision: Sendable, Equatable {
        /// The sub is new to the map: insert it.
        case insert
        /// Already linked to this very user: nothing changes, no event (a retry answers 200).
        case unchanged
        /// Unlinked earlier (from this user or another): move it here and reactivate it.
        case relink(previousOwner: UUID)
        case refuse(IdentityMapError)
    }

    /// Linking `(pool, sub)` to `user`, given what the map holds for that sub.
    public static func link(existing: ExistingIdentity?, pool: PoolID, sub: String, to user: UUID) -> LinkDecision {
        guard let existing else { return .insert }
        if existing.status == .unlinked { return .relink(previousOwner: existing.owner) }
        if existing.owner == user { return .unchanged }
        return .refuse(.identityAlreadyLinked(pool: pool.rawValue, sub: sub))
    }

    public enum UnlinkDecision: Sendable, Equatable {
        case unlink(previousStatus: IdentityStatus)
        /// Already unlinked from this user: nothing to do, and no second event.
        case unchanged
        case refuse(IdentityMapError)
    }

    /// Unlinking `(pool, sub)` from `user`; `existing` is the identity only if it belongs to `user`.
    public static func unlink(existing: IdentityStatus?, pool: PoolID, sub: String) -> UnlinkDecision {
        switch existing {
        case nil: return .refuse(.identityNotFound(pool: pool.rawValue, sub: sub))
        case .unlinked: return .unchanged
        case let status?: return .unlink(previousStatus: status)
        }
    }

    /// A user's row as a merge sees it.
    public struct UserState: Sendable, Equatable {
        public var status: UserStatus
        public var mergedInto: UUID?

        public init(status: UserStatus, mergedInto: UUID? = nil) {
            self.status = status
            self.mergedInto = mergedInto
        }
    }

    public enum MergeDecision: Sendable, Equatable {
        case merge
        /// `from` is already merged into `survivor`: a retried merge changes nothing.
        case unchanged
        case refuse(IdentityMapError)
    }

    /// Merging `from` into `survivor`, given both users' rows (nil: no such user).
    public static func merge(from: UUID, fromState: UserState?, into survivor: UUID, survivorState: UserState?) -> MergeDecision {
        guard from != survivor else { return .refuse(.cannotMergeIntoSelf) }
        guard let survivorState else { return .refuse(.userNotFound(survivor)) }
        guard let fromState else { return .refuse(.userNotFound(from)) }
        if fromState.status == .merged, fromState.mergedInto == survivor { return .unchanged }
        guard survivorState.status == .active else { return .refuse(.userNotActive(survivor, survivorState.status)) }
        guard fromState.status == .active else { return .refuse(.userNotActive(from, fromState.status)) }
        return .merge
    }

    /// Undoing the merge of `from` into `survivor`, given `from`'s row now and, for each identity
    /// the merge moved, who holds it now and whether it is unlinked; nil merge event: none found.
    public static func unmerge(
        from: UUID, fromState: UserState?, survivor: UUID, mergeFound: Bool, moved: [(owner: UUID?, unlinked: Bool)],
        repointedKnown: Bool
    ) -> IdentityMapError? {
        guard let fromState else { return .userNotFound(from) }
        guard fromState.status == .merged, fromState.mergedInto == survivor, mergeFound else {
            return .notMerged(from: from, into: survivor)
        }
        guard repointedKnown else { return .mergeChangedSince("the merge predates the record of which earlier merges it re-pointed") }
        if moved.contains(where: { $0.owner != survivor }) {
            return .mergeChangedSince("an identity it moved belongs to someone else now")
        }
        if moved.contains(where: \.unlinked) { return .mergeChangedSince("an identity it moved was unlinked since") }
        return nil
    }

    /// The identities a new user is created with must name each `(pool, sub)` once.
    public static func checkDistinct(_ identities: [NewIdentity]) throws(IdentityMapError) {
        var seen = Set<IdentityKey>()
        for identity in identities where !seen.insert(IdentityKey(pool: identity.pool, sub: identity.sub)).inserted {
            throw .invalidInput(field: "identities", reason: "lists the same pool and sub twice")
        }
    }

    /// Writes only go to active users; a merged ID has already been followed to its survivor.
    public static func requireActive(_ user: UUID, status: UserStatus) throws(IdentityMapError) {
        guard status == .active else { throw .userNotActive(user, status) }
    }
}

/// `(pool, sub)`: what names one Cognito identity everywhere in the map.
public struct IdentityKey: Sendable, Hashable {
    public var pool: PoolID
    public var sub: String

    public init(pool: PoolID, sub: String) {
        self.pool = pool
        self.sub = sub
    }
}
