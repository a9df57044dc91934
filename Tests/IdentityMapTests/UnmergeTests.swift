import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// Undoing a merge restores exactly what it moved, or refuses.
@Suite("Unmerge", .timeLimit(.minutes(3)))
struct UnmergeTests {
    @Test("merge then unmerge: the merged user is active again with exactly its identities; both resolve as before")
    func roundTrip() async throws {
        let f = try await MapFixture.make()
        let a = try await f.user(try f.identity(f.old, "a1"), try f.identity(f.new, "a2"))
        let b = try await f.user(try f.identity(f.old, "b1"))
        _ = try await f.map.merge(a.id, into: b.id, attribution: f.by).run(on: f.db.database)
        #expect(try await f.map.resolve(.pool(f.old, sub: testSub("a1")))?.userID == b.id)
        // After the merge the survivor gets an identity of its own: the unmerge leaves it there.
        _ = try await f.map.link(try f.identity(f.new, "b2"), to: b.id, attribution: f.by).run(on: f.db.database)
        let restored = try await f.map.unmerge(a.id, from: b.id, attribution: f.by).run(on: f.db.database)
        #expect(restored.id == a.id && restored.status == .active && restored.mergedInto == nil)
        #expect(Set(restored.identities.map(\.sub)) == [testSub("a1"), testSub("a2")])
        #expect(try await f.map.resolve(.pool(f.old, sub: testSub("a1")))?.userID == a.id)
        #expect(try await f.map.resolve(.pool(f.new, sub: testSub("b2")))?.userID == b.id)
        #expect(try await f.map.user(a.id)?.requestedID == nil)
        #expect(try f.events(kind: "user_unmerged") == 1)
        // Undoing it again: it is not merged any more.
        await #expect(throws: IdentityMapError.notMerged(from: a.id, into: b.id)) {
            try await f.map.unmerge(a.id, from: b.id, attribution: f.by).run(on: f.db.database)
        }
    }

    @Test("a chain: users merged into A before A was merged into B point at A again")
    func repointed() async throws {
        let f = try await MapFixture.make()
        let c = try await f.user(try f.identity(f.old, "c1"))
        let a = try await f.user(try f.identity(f.old, "a1"))
        let b = try await f.user(try f.identity(f.old, "b1"))
        _ = try await f.map.merge(c.id, into: a.id, attribution: f.by).run(on: f.db.database)
        _ = try await f.map.merge(a.id, into: b.id, attribution: f.by).run(on: f.db.database)
        #expect(try await f.map.user(c.id)?.id == b.id)
        _ = try await f.map.unmerge(a.id, from: b.id, attribution: f.by).run(on: f.db.database)
        #expect(try await f.map.user(c.id)?.id == a.id)
        #expect(try await f.map.resolve(.pool(f.old, sub: testSub("c1")))?.userID == a.id)
    }

    @Test("refused when a moved identity was unlinked since, or when the users were never merged")
    func refusals() async throws {
        let f = try await MapFixture.make()
        let a = try await f.user(try f.identity(f.old, "a1"))
        let b = try await f.user(try f.identity(f.old, "b1"))
        await #expect(throws: IdentityMapError.notMerged(from: a.id, into: b.id)) {
            try await f.map.unmerge(a.id, from: b.id, attribution: f.by).run(on: f.db.database)
        }
        _ = try await f.map.merge(a.id, into: b.id, attribution: f.by).run(on: f.db.database)
        _ = try await f.map.unlink(pool: f.old, sub: testSub("a1"), from: b.id, attribution: f.by).run(on: f.db.database)
        await #expect(throws: IdentityMapError.self) {
            try await f.map.unmerge(a.id, from: b.id, attribution: f.by).run(on: f.db.database)
        }
        #expect(try await f.map.user(a.id)?.id == b.id)  // nothing changed
        #expect(try f.events(kind: "user_unmerged") == 0)
    }

    @Test("the unmerge rule on its own")
    func rule() {
        let a = UUID(), b = UUID(), c = UUID()
        let merged = LinkRules.UserState(status: .merged, mergedInto: b)
        #expect(
            LinkRules.unmerge(from: a, fromState: merged, survivor: b, mergeFound: true, moved: [(b, false)], repointedKnown: true) == nil)
        #expect(
            LinkRules.unmerge(from: a, fromState: nil, survivor: b, mergeFound: true, moved: [], repointedKnown: true) == .userNotFound(a))
        #expect(
            LinkRules.unmerge(from: a, fromState: .init(status: .active), survivor: b, mergeFound: true, moved: [], repointedKnown: true)
                == .notMerged(from: a, into: b))
        #expect(
            LinkRules.unmerge(
                from: a, fromState: .init(status: .merged, mergedInto: c), survivor: b, mergeFound: true, moved: [], repointedKnown: true)
                == .notMerged(from: a, into: b))
        #expect(
            LinkRules.unmerge(from: a, fromState: merged, survivor: b, mergeFound: true, moved: [(c, false)], repointedKnown: true) != nil)
        #expect(
            LinkRules.unmerge(from: a, fromState: merged, survivor: b, mergeFound: true, moved: [(b, true)], repointedKnown: true) != nil)
        #expect(
            LinkRules.unmerge(from: a, fromState: merged, survivor: b, mergeFound: true, moved: [(b, false)], repointedKnown: false) != nil)
    }
}
