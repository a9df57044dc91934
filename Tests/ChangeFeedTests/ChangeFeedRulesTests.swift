import Foundation
import IdentityMap
import Testing

@testable import ChangeFeed

/// The feed's pure parts, without a database: the gap rule, the cursor's text and the mapping
/// from audit events to changes.
@Suite("Change feed rules", .timeLimit(.minutes(1)))
struct ChangeFeedRulesTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    static func row(_ position: Int64, publishedAfter seconds: Double) -> GapRule.Row {
        GapRule.Row(position: position, publishedAt: t0.addingTimeInterval(seconds))
    }

    @Test("a hole blocks the rows after it until it is maxGapAge old (from the row after it), then counts as empty")
    func gapRule() {
        let rule = GapRule(maxGapAge: .seconds(10))
        let t0 = Self.t0
        // No hole: everything, in order.
        #expect(
            rule.settle(after: 5, rows: [Self.row(6, publishedAfter: 0), Self.row(7, publishedAfter: 0)], clock: t0.addingTimeInterval(1))
                == GapRule.Outcome(accepted: 2, position: 7, abandoned: 0, blockedUntil: nil))
        // Nothing read: the cursor stays.
        #expect(rule.settle(after: 5, rows: [], clock: t0) == GapRule.Outcome(accepted: 0, position: 5, abandoned: 0, blockedUntil: nil))
        // A young hole right after the cursor: nothing yet, and when to look again.
        #expect(
            rule.settle(after: 5, rows: [Self.row(7, publishedAfter: 0), Self.row(8, publishedAfter: 0)], clock: t0.addingTimeInterval(1))
                == GapRule.Outcome(accepted: 0, position: 5, abandoned: 0, blockedUntil: t0.addingTimeInterval(10)))
        // A young hole further on: the rows before it only.
        let rows = [Self.row(6, publishedAfter: 0), Self.row(9, publishedAfter: 2), Self.row(10, publishedAfter: 2)]
        #expect(
            rule.settle(after: 5, rows: rows, clock: t0.addingTimeInterval(3))
                == GapRule.Outcome(accepted: 1, position: 6, abandoned: 0, blockedUntil: t0.addingTimeInterval(12)))
        // Just before its age: still blocked; at its age: given up (two positions), the rest follows.
        #expect(rule.settle(after: 5, rows: rows, clock: t0.addingTimeInterval(11.9)).accepted == 1)
        #expect(
            rule.settle(after: 5, rows: rows, clock: t0.addingTimeInterval(12))
                == GapRule.Outcome(accepted: 3, position: 10, abandoned: 2, blockedUntil: nil))
        // Without a clock every hole blocks: nothing is given up on a guess.
        #expect(rule.settle(after: 5, rows: [Self.row(7, publishedAfter: -3_600)], clock: nil).accepted == 0)
        // The age runs from the row after the hole, not from the first row read.
        let late = [Self.row(6, publishedAfter: -100), Self.row(8, publishedAfter: 0)]
        #expect(rule.settle(after: 5, rows: late, clock: t0.addingTimeInterval(5)).position == 6)
    }

    @Test("a cursor is 12 base64url characters of a version byte and the position; each position has one spelling")
    func cursorText() {
        #expect(FeedCursor(position: 0).text == "AQAAAAAAAAAA")
        #expect(FeedCursor(position: 1).text == "AQAAAAAAAAAB")
        for position: Int64 in [0, 1, 63, 64, 255, 256, 65_535, 1 << 40, Int64.max - 1, Int64.max] {
            let text = FeedCursor(position: position).text
            #expect(text.count == 12 && text.hasPrefix("A"), "\(position): \(text)")
            #expect(FeedCursor(text: text)?.position == position, "\(position): \(text)")
        }
        // Another version, a negative position, a wrong length, padding, other alphabets: not a cursor.
        for bad in [
            "", "AQAAAAAAAAA", "AQAAAAAAAAAAA", "AAAAAAAAAAAA", "AgAAAAAAAAAA", "AY__________", "AQAAAAAAAA=A", "AQAAAAAAAAA+",
            "AQAAAAAAAAA/", "aqaaaaaaaaaa", "123", "AQAAAAAAAAA\u{e9}",
        ] {
            #expect(FeedCursor(text: bad) == nil, "\(bad)")
        }
        // Every text of the documented pattern (A, one of Q…X, ten more) reads back as itself.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        for _ in 0..<200 {
            let text = "A" + String(Array("QRSTUVWX").randomElement()!) + String((0..<10).map { _ in alphabet.randomElement()! })
            #expect(FeedCursor(text: text)?.text == text, "\(text)")
        }
    }

    @Test("a cursor with a check is 18 characters of version 2, the position and the check; each has one spelling")
    func checkedCursorText() {
        for (position, check): (Int64, UInt32) in [(1, 0), (42, 0xdead_beef), (Int64.max, UInt32.max), (1 << 33, 7)] {
            let cursor = FeedCursor(position: position, check: check)
            // Version 2's bits and the position's high ones: A, then one of g…n.
            #expect(cursor.text.count == 18 && cursor.text.hasPrefix("A") && "ghijklmn".contains(Array(cursor.text)[1]), "\(cursor.text)")
            #expect(FeedCursor(text: cursor.text) == cursor)
            #expect(FeedCursor(text: cursor.text)?.text == cursor.text)
            #expect(FeedCursor(text: cursor.text) != FeedCursor(position: position))
        }
        // Version 1 with a check's length, version 2 with a position's, version 3: not a cursor.
        #expect(FeedCursor(text: "AQAAAAAAAAAqAAAAAA") == nil)
        #expect(FeedCursor(text: "AgAAAAAAAAAq") == nil)
        #expect(FeedCursor(text: "AwAAAAAAAAAqAAAAAA") == nil)
        // The check depends on both the event and the time, and on nothing else.
        let check = FeedCursor.check(eventID: 7, publishedMicros: 1_765_000_000_000_000)
        #expect(check == FeedCursor.check(eventID: 7, publishedMicros: 1_765_000_000_000_000))
        #expect(check != FeedCursor.check(eventID: 8, publishedMicros: 1_765_000_000_000_000))
        #expect(check != FeedCursor.check(eventID: 7, publishedMicros: 1_765_000_000_000_001))
    }

    static let pool = PoolID("us-east-1_Old")!
    static let a = UUID(uuidString: "01a21996-0000-7000-8000-00000000000a")!
    static let b = UUID(uuidString: "01a21996-0000-7000-8000-00000000000b")!
    static let c = UUID(uuidString: "01a21996-0000-7000-8000-00000000000c")!
    static let sub = "8c1f3e2a-5b6d-4e7f-9a0b-1c2d3e4f5a6b"

    static func change(
        _ kind: EventKind, user: UUID? = ChangeFeedRulesTests.a, pool: String? = ChangeFeedRulesTests.pool.rawValue,
        sub: String? = ChangeFeedRulesTests.sub, _ details: JSONValue
    ) -> FeedChange? {
        ChangeDerivation.change(
            from: ChangeDerivation.Row(
                position: 42, publishedAt: t0, eventID: 7, kind: kind.rawValue, occurredAt: t0, userID: user, pool: pool, sub: sub,
                details: details))
    }

    @Test("each event kind becomes its change, with the stable IDs and identities it names")
    func derivation() throws {
        let (a, b, c, key) = (Self.a, Self.b, Self.c, IdentityKey(pool: Self.pool, sub: Self.sub))
        let linked = try #require(Self.change(.identityLinked, ["via": "api", "provider": "Cognito", "email_verified": true]))
        #expect(linked.kind == .identityLinked && linked.userID == a && linked.identity == key && linked.fromUserID == nil)
        #expect(linked.position == 42 && linked.eventID == 7 && linked.cursor == FeedCursor(position: 42))
        // Relinked to the same person: still a link; to another: a move.
        #expect(Self.change(.identityLinked, ["relinked_from": .string(a.uuidString)])?.kind == .identityLinked)
        let moved = try #require(Self.change(.identityLinked, ["relinked_from": .string(b.uuidString.lowercased())]))
        #expect(moved.kind == .identityMoved && moved.fromUserID == b && moved.toUserID == a && moved.userID == a && moved.identity == key)
        #expect(Self.change(.identityUnlinked, ["previous_status": "active"])?.kind == .identityUnlinked)
        let statuses: [(String, String, ChangeKind?)] = [
            ("active", "disabled", .identityDisabled), ("disabled", "active", .identityEnabled), ("deleted", "active", .identityEnabled),
            ("active", "deleted", .identityDeleted), ("active", "unlinked", .identityUnlinked), ("active", "active", nil),
            ("active", "gone", nil),
        ]
        for (from, to, kind) in statuses {
            let change = Self.change(.identityStatusChanged, ["from": .string(from), "to": .string(to), "reason": "x"])
            #expect(change?.kind == kind, "\(from) → \(to)")
            if kind != nil { #expect(change?.identity == key && change?.userID == a) }
        }
        let merged = try #require(
            Self.change(
                .userMerged, user: a, pool: nil, sub: nil,
                [
                    "from": .string(b.uuidString), "survivor": .string(a.uuidString), "repointed_users": [.string(c.uuidString)],
                    "moved_identities": [["pool": .string(Self.pool.rawValue), "sub": .string(Self.sub)]], "repointed_merges": 1,
                ]))
        #expect(merged.kind == .userMerged && merged.userID == a && merged.fromUserID == b && merged.toUserID == a)
        #expect(merged.mergedUserIDs == [b, c] && merged.identities == [key] && merged.identity == nil)
        let unmerged = try #require(
            Self.change(
                .userUnmerged, user: b, pool: nil, sub: nil,
                [
                    "from": .string(b.uuidString), "survivor": .string(a.uuidString), "merge_event": 3,
                    "restored_identities": [["pool": .string(Self.pool.rawValue), "sub": .string(Self.sub)]],
                    "repointed_users": [.string(c.uuidString)],
                ]))
        #expect(unmerged.kind == .userUnmerged && unmerged.userID == b && unmerged.fromUserID == a && unmerged.toUserID == b)
        #expect(unmerged.restoredUserIDs == [b, c] && unmerged.identities == [key])
        let erased = try #require(
            Self.change(
                .personalDataErased, user: a, pool: nil, sub: nil,
                [
                    "users": [.string(a.uuidString), .string(b.uuidString)], "identities": 2, "events_scrubbed": 4,
                    "scrubbed_events": [1, 2],
                ]
            ))
        #expect(erased.kind == .userErased && erased.userID == a && erased.erasedUserIDs == [a, b])
    }

    @Test("events that are no change for a backend, or that lack what their kind must name, make none")
    func noChange() {
        for kind in [EventKind.userCreated, .poolAdded, .tokenCreated, .importCompleted, .identityRefreshed, .migrationSucceeded] {
            #expect(Self.change(kind, [:]) == nil, "\(kind)")
        }
        #expect(Self.change(.identityLinked, user: nil, [:]) == nil)
        #expect(Self.change(.identityUnlinked, pool: nil, [:]) == nil)
        #expect(Self.change(.identityUnlinked, pool: "not a pool", [:]) == nil)
        #expect(Self.change(.identityLinked, sub: nil, [:]) == nil)
        #expect(Self.change(.userMerged, ["survivor": .string(Self.a.uuidString)]) == nil)
        #expect(Self.change(.userUnmerged, ["from": .string(Self.b.uuidString)]) == nil)
        #expect(Self.change(.personalDataErased, user: nil, ["users": []]) == nil)
        #expect(Set(ChangeKind.allCases.map(\.rawValue)).count == ChangeKind.allCases.count)
    }

    @Test("the page query hands over exactly the detail keys the derivation reads")
    func detailKeys() throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/ChangeFeed/ChangeDerivation.swift")
        let text = try String(contentsOf: source, encoding: .utf8)
        let read = Set(text.matches(of: /details\["([a-z_]+)"\]/).map { String($0.output.1) })
        #expect(!read.isEmpty)
        #expect(read == Set(ChangeDerivation.detailKeys))
    }
}
