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

extension ChangeJSON {
    /// The JSON `JSONEncoder.sortedKeys()` writes for this change, written by hand: a catching-up
    /// consumer reads a thousand changes a page, and Foundation's encoder took most of a page's
    /// time. Same bytes (keys in byte order, absent fields left out, strings through the one
    /// escaper) — `ChangeJSONTests` holds the two equal.
    func write(to out: inout [UInt8]) {
        var first = true
        // Static text appended in place: an array literal per key was an allocation, ten a change.
        func literal(_ text: StaticString) {
            out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
        }
        func key(_ name: StaticString) {
            literal(first ? "{\"" : ",\"")
            first = false
            literal(name)
            literal("\":")
        }
        func string(_ value: String) {
            var value = value
            value.withUTF8 { JSONString.append(utf8: $0, to: &out) }
        }
        func strings(_ values: [String]) {
            out.append(UInt8(ascii: "["))
            for (index, value) in values.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                string(value)
            }
            out.append(UInt8(ascii: "]"))
        }
        key("cursor")
        string(cursor)
        if let erasedUserIDs {
            key("erased_user_ids")
            strings(erasedUserIDs)
        }
        key("event_id")
        out.append(contentsOf: String(eventID).utf8)
        if let fromUserID {
            key("from_user_id")
            string(fromUserID)
        }
        if let identities {
            key("identities")
            out.append(UInt8(ascii: "["))
            for (index, identity) in identities.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                literal(#"{"pool":"#)
                string(identity.pool)
                literal(#","sub":"#)
                string(identity.sub)
                out.append(UInt8(ascii: "}"))
            }
            out.append(UInt8(ascii: "]"))
        }
        key("kind")
        string(kind)
        if let mergedUserIDs {
            key("merged_user_ids")
            strings(mergedUserIDs)
        }
        key("occurred_at")
        string(occurredAt)
        if let pool {
            key("pool")
            string(pool)
        }
        if let restoredUserIDs {
            key("restored_user_ids")
            strings(restoredUserIDs)
        }
        if let sub {
            key("sub")
            string(sub)
        }
        if let toUserID {
            key("to_user_id")
            string(toUserID)
        }
        if let userID {
            key("user_id")
            string(userID)
        }
        out.append(UInt8(ascii: "}"))
    }

    /// `changes` as a JSON array of ``write(to:)``'s objects.
    static func writeArray(_ changes: [FeedChange], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, change) in changes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            ChangeJSON(change).write(to: &out)
        }
        out.append(UInt8(ascii: "]"))
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

    /// A page as `JSONEncoder.sortedKeys()` writes it, without the encoder (``ChangeJSON/write(to:)``).
    static func bytes(_ changes: [FeedChange], next: FeedCursor, hasMore: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + changes.count * 320)
        out.append(contentsOf: Array(#"{"changes":"#.utf8))
        ChangeJSON.writeArray(changes, to: &out)
        out.append(contentsOf: Array(#","has_more":"#.utf8))
        out.append(contentsOf: Array((hasMore ? "true" : "false").utf8))
        out.append(contentsOf: Array(#","next":"#.utf8))
        var text = next.text
        text.withUTF8 { JSONString.append(utf8: $0, to: &out) }
        out.append(UInt8(ascii: "}"))
        return out
    }
}
