public import Foundation
public import IdentityMap

/// What a backend acts on. The raw values are the wire's `kind` (and the SSE `event:`): part of
/// the API contract, never renamed.
public enum ChangeKind: String, Sendable, CaseIterable {
    /// An identity was linked to a person (a new person's first identity included).
    case identityLinked = "identity.linked"
    /// An identity was unlinked from its person: it no longer resolves.
    case identityUnlinked = "identity.unlinked"
    /// An identity unlinked from one person was linked to another (`from_user_id` → `to_user_id`).
    case identityMoved = "identity.moved"
    /// The identity's Cognito user was disabled in its pool (it still resolves, status `disabled`).
    case identityDisabled = "identity.disabled"
    /// A disabled (or deleted) identity is active again.
    case identityEnabled = "identity.enabled"
    /// The identity's Cognito user no longer exists in its pool.
    case identityDeleted = "identity.deleted"
    /// A person was merged into another: `merged_user_ids` now resolve to `user_id`.
    case userMerged = "user.merged"
    /// A merge was undone: `restored_user_ids` resolve to `user_id` again.
    case userUnmerged = "user.unmerged"
    /// A person's personal data was erased (`erased_user_ids`: every ID of that person).
    case userErased = "user.erased"
}

/// One change of the feed: the stable IDs and `(pool, sub)` involved, and nothing personal (no
/// username, no email: the feed never reads `event_personal_data`).
public struct FeedChange: Sendable, Equatable {
    /// Its place in the feed; the cursor after it is `FeedCursor(position:)`.
    public var position: Int64
    /// The audit event it comes from (`GET /v1/events` tells the rest, to an auditor).
    public var eventID: Int64
    public var kind: ChangeKind
    /// When the change was made (the event's time); the feed's order is commit order.
    public var occurredAt: Date
    /// When it was published, at its commit (the database's clock).
    public var publishedAt: Date
    /// The person the change leaves the identity or IDs with: the owner after a link or move, the
    /// survivor of a merge, the user an unmerge restores, the erased person's survivor.
    public var userID: UUID?
    /// The identity of an `identity.*` change.
    public var identity: IdentityKey?
    /// Where identities went from and to: the previous owner and the new one (`identity.moved`),
    /// the merged user and its survivor (`user.merged`), the survivor and the restored user
    /// (`user.unmerged`).
    public var fromUserID: UUID?
    public var toUserID: UUID?
    /// `user.merged`: the merged user and the users merged into it before, which all resolve to
    /// `userID` now.
    public var mergedUserIDs: [UUID]?
    /// `user.unmerged`: the restored user and those merged into it before, which resolve to it again.
    public var restoredUserIDs: [UUID]?
    /// `user.erased`: every ID of the erased person.
    public var erasedUserIDs: [UUID]?
    /// The identities a merge or unmerge moved.
    public var identities: [IdentityKey]?
    /// Its row's ``FeedCursor/check``, when it was read from the feed.
    public var check: UInt32?

    public init(
        position: Int64, eventID: Int64, kind: ChangeKind, occurredAt: Date, publishedAt: Date, userID: UUID? = nil,
        identity: IdentityKey? = nil
    ) {
        self.position = position
        self.eventID = eventID
        self.kind = kind
        self.occurredAt = occurredAt
        self.publishedAt = publishedAt
        self.userID = userID
        self.identity = identity
    }

    /// The cursor a consumer holds once it has acted on this change.
    public var cursor: FeedCursor { FeedCursor(position: position, check: check) }
}
