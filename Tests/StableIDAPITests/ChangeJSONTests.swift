import ChangeFeed
import Foundation
import IdentityMap
import Support
import Testing

@testable import StableIDAPI

/// The feed's hand-written JSON against Foundation's encoder of the same values: one byte string.
@Suite("Change JSON", .timeLimit(.minutes(1)))
struct ChangeJSONTests {
    static func changes() -> [FeedChange] {
        let at = Date(timeIntervalSince1970: 1_800_000_000.123456)
        let pool = PoolID("us-east-1_Feed")!
        var linked = FeedChange(
            position: 1, eventID: 11, kind: .identityLinked, occurredAt: at, publishedAt: at, userID: UUID(),
            identity: IdentityKey(pool: pool, sub: "5b0b5b0b-1111-4222-8333-000000000005"))
        var moved = linked
        moved.position = 2
        moved.kind = .identityMoved
        moved.fromUserID = UUID()
        moved.toUserID = linked.userID
        var merged = FeedChange(position: 3, eventID: 13, kind: .userMerged, occurredAt: at, publishedAt: at, userID: UUID())
        merged.fromUserID = UUID()
        merged.toUserID = merged.userID
        merged.mergedUserIDs = [UUID(), UUID()]
        merged.identities = [linked.identity!, IdentityKey(pool: pool, sub: "6b0b5b0b-1111-4222-8333-000000000006")]
        var unmerged = merged
        unmerged.position = 4
        unmerged.kind = .userUnmerged
        unmerged.mergedUserIDs = nil
        unmerged.restoredUserIDs = [UUID()]
        unmerged.identities = []
        var erased = FeedChange(position: 5, eventID: 15, kind: .userErased, occurredAt: at, publishedAt: at)
        erased.erasedUserIDs = [UUID()]
        linked.position = 1
        return [linked, moved, merged, unmerged, erased]
    }

    @Test("pages, each change and webhook messages are byte for byte what JSONEncoder.sortedKeys() writes")
    func sameBytes() throws {
        let changes = Self.changes()
        let next = FeedCursor(position: 5)
        for change in changes {
            var written: [UInt8] = []
            ChangeJSON(change).write(to: &written)
            #expect(written == Array(try JSONEncoder.sortedKeys().encode(ChangeJSON(change))), "\(change.kind)")
        }
        for hasMore in [true, false] {
            let page = ChangePageJSON(changes: changes.map { ChangeJSON($0) }, next: next, hasMore: hasMore)
            #expect(ChangePageJSON.bytes(changes, next: next, hasMore: hasMore) == Array(try JSONEncoder.sortedKeys().encode(page)))
        }
        #expect(
            ChangePageJSON.bytes([], next: next, hasMore: false) == Array(#"{"changes":[],"has_more":false,"next":"AQAAAAAAAAAF"}"#.utf8))
        #expect(try WebhookPayloadJSON.encode(changes, next: next) == WebhookPayloadJSON.encodedByFoundation(changes, next: next))
        #expect(try WebhookPayloadJSON.encode([], next: next) == WebhookPayloadJSON.encodedByFoundation([], next: next))
    }
}
