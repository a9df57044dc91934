import ChangeFeed
import Foundation
import IdentityMap
import Support

/// One change of `GET /v1/changes` (and the `data:` of its Server-Sent Event): the stable IDs
/// and identities involved, never a username or an email. Fields a kind does not name are absent.
struct ChangeJSON: Encodable {
    /// The cursor after this change: resume here to get what follows it.
    var cursor: String
    var kind: String
    var occurredAt: String
    var eventID: Int64
    var userID: String?
    var pool: String?
    var sub: String?
    var fromUserID: String?
    var toUserID: String?
    var mergedUserIDs: [String]?
    var restoredUserIDs: [String]?
    var erasedUserIDs: [String]?
    var identities: [IdentityKeyJSON]?

    enum CodingKeys: String, CodingKey {
        case cursor, kind, pool, sub, identities
        case occurredAt = "occurred_at"
        case eventID = "event_id"
        case userID = "user_id"
        case fromUserID = "from_user_id"
        case toUserID = "to_user_id"
        case mergedUserIDs = "merged_user_ids"
        case restoredUserIDs = "restored_user_ids"
        case erasedUserIDs = "erased_user_ids"
    }

    init(_ change: FeedChange) {
        cursor = change.cursor.text
        kind = change.kind.rawValue
        occurredAt = RFC3339.format(change.occurredAt)
        eventID = change.eventID
        userID = change.userID?.lowercasedString
        pool = change.identity?.pool.rawValue
        sub = change.identity?.sub
        fromUserID = change.fromUserID?.lowercasedString
        toUserID = change.toUserID?.lowercasedString
        mergedUserIDs = change.mergedUserIDs?.map(\.lowercasedString)
        restoredUserIDs = change.restoredUserIDs?.map(\.lowercasedString)
        erasedUserIDs = change.erasedUserIDs?.map(\.lowercasedString)
        identities = change.identities?.map { IdentityKeyJSON(pool: $0.pool.rawValue, sub: $0.sub) }
    }
}

/// `{"pool", "sub"}`: an identity named, nothing more.
struct IdentityKeyJSON: Encodable {
    var pool: String
    var sub: String
}

/// A page of changes: `next` is the cursor to ask with next (the end of the feed when asked
/// without one); `has_more` says more is ready now (ask again at once rather than waiting).
struct ChangePageJSON: Encodable {
    var changes: [ChangeJSON]
    var next: String
    var hasMore: Bool

    enum CodingKeys: String, CodingKey {
        case changes, next
        case hasMore = "has_more"
    }

    init(changes: [ChangeJSON], next: FeedCursor, hasMore: Bool) {
        self.changes = changes
        self.next = next.text
        self.hasMore = hasMore
    }
}
