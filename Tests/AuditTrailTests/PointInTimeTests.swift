import AuditTrail
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// One sub's history, written through the map as the service writes it, with the database's clock
/// read after every step. Events take `clock_timestamp()`, so each mark falls strictly between the
/// events of its step and those of the next: no sleeps, and no guessing at times.
///
/// Steps (mark names): users B, C, D, E, G exist (`before`); A is created with sub s (`linked`);
/// A is merged into B (`merged`) and unmerged (`unmerged`); s is unlinked from A (`unlinked`),
/// linked to C (`relinked`), unlinked from C (`unlinkedFromC`) and linked to D (`movedToD`); D is
/// merged into E (`mergedDE`), E into G — which repoints D to G (`mergedEG`) — and E is unmerged
/// from G, which gives s back to E and points D at E again (`unmergedEG`).
struct OwnershipTimeline {
    let f: MapFixture
    let pit: PointInTime
    let users: [String: UUID]
    let marks: [String: Date]
    let sub = testSub("pit-s")

    subscript(name: String) -> UUID { users[name]! }

    func at(_ mark: String) -> Date { marks[mark]! }

    /// The ids of the events of `kind`, oldest first.
    func ids(_ kind: String) throws -> [Int64] {
        try f.db.rows("SELECT id FROM events WHERE kind = \(kind) ORDER BY id").map { try $0.decode("id") }
    }

    static func make() async throws -> OwnershipTimeline {
        let f = try await MapFixture.make()
        let db = f.db.database
        let s = try f.identity(f.old, "pit-s")
        func now() throws -> Date { try f.db.rows("SELECT clock_timestamp() AS now")[0].decode("now") }
        var users: [String: UUID] = [:]
        for name in ["B", "C", "D", "E", "G"] { users[name] = try await f.user().id }
        var marks: [String: Date] = [:]
        marks["before"] = try now()
        let a = try await f.user(s).id
        users["A"] = a
        marks["linked"] = try now()
        let (b, c, d, e, g) = (users["B"]!, users["C"]!, users["D"]!, users["E"]!, users["G"]!)
        _ = try await f.map.merge(a, into: b, attribution: f.by).run(on: db)
        marks["merged"] = try now()
        _ = try await f.map.unmerge(a, from: b, attribution: f.by).run(on: db)
        marks["unmerged"] = try now()
        _ = try await f.map.unlink(pool: f.old, sub: s.sub, from: a, attribution: f.by).run(on: db)
        marks["unlinked"] = try now()
        _ = try await f.map.link(s, to: c, attribution: f.by).run(on: db)
        marks["relinked"] = try now()
        _ = try await f.map.unlink(pool: f.old, sub: s.sub, from: c, attribution: f.by).run(on: db)
        marks["unlinkedFromC"] = try now()
        _ = try await f.map.link(s, to: d, attribution: f.by).run(on: db)
        marks["movedToD"] = try now()
        _ = try await f.map.merge(d, into: e, attribution: f.by).run(on: db)
        marks["mergedDE"] = try now()
        _ = try await f.map.merge(e, into: g, attribution: f.by).run(on: db)
        marks["mergedEG"] = try now()
        _ = try await f.map.unmerge(e, from: g, attribution: f.by).run(on: db)
        marks["unmergedEG"] = try now()
        return OwnershipTimeline(f: f, pit: PointInTime(database: db), users: users, marks: marks)
    }
}

@Suite("Point in time", .timeLimit(.minutes(3)))
struct PointInTimeTests {
    @Test("resolve at T: the holder across link, merge, unmerge, unlink, relinks and a repointing merge; unknown before the link")
    func resolveAcrossHistory() async throws {
        let t = try await OwnershipTimeline.make()
        func resolve(_ mark: String) async throws -> PointInTime.IdentityAt? {
            try await t.pit.resolve(pool: t.f.old, sub: t.sub, at: t.at(mark))
        }
        #expect(try await resolve("before") == nil)
        // (mark, the person holding s, its state, the user its last link named)
        let expected: [(String, String, StateReplay.LinkState, String)] = [
            ("linked", "A", .linked, "A"), ("merged", "B", .linked, "A"), ("unmerged", "A", .linked, "A"),
            ("unlinked", "A", .unlinked, "A"), ("relinked", "C", .linked, "C"), ("unlinkedFromC", "C", .unlinked, "C"),
            ("movedToD", "D", .linked, "D"), ("mergedDE", "E", .linked, "D"), ("mergedEG", "G", .linked, "D"),
            ("unmergedEG", "E", .linked, "D"),
        ]
        for (mark, holder, state, linkedTo) in expected {
            let answer = try #require(try await resolve(mark), "\(mark)")
            #expect(answer.userID == t[holder] && answer.state == state && answer.linkedTo == t[linkedTo], "\(mark): \(answer)")
            #expect(answer.linkedAt < t.at(mark), "\(mark)")
        }
        // The event that decided each answer is the one an auditor would look up.
        let merges = try t.ids("user_merged"), unmerges = try t.ids("user_unmerged"), links = try t.ids("identity_linked")
        #expect(merges.count == 3 && unmerges.count == 2 && links.count == 3)
        #expect(try await resolve("linked")?.decidedBy == links[0])
        #expect(try await resolve("merged")?.decidedBy == merges[0])
        #expect(try await resolve("unmerged")?.decidedBy == unmerges[0])
        #expect(try await resolve("unlinked")?.decidedBy == t.ids("identity_unlinked")[0])
        #expect(try await resolve("mergedEG")?.decidedBy == merges[2])
        #expect(try await resolve("unmergedEG")?.decidedBy == unmerges[1])
        // By issuer, the same; a time in the future answers as now, and now is what the tables say.
        let byIssuer = try await t.pit.resolve(.issuer(t.f.old.defaultIssuer, sub: t.sub), at: t.at("merged"))
        #expect(try await byIssuer == resolve("merged"))
        let future = try #require(try await t.pit.resolve(pool: t.f.old, sub: t.sub, at: t.at("unmergedEG").addingTimeInterval(86_400)))
        #expect(try await future == resolve("unmergedEG"))
        #expect(try await t.f.map.resolve(.pool(t.f.old, sub: t.sub))?.userID == future.userID)
        #expect(try await t.pit.resolve(pool: t.f.new, sub: t.sub, at: t.at("unmergedEG")) == nil)
    }

    @Test("a user at T: the identities it held then, and a merged ID answers its survivor then; unknown before its creation")
    func userAcrossHistory() async throws {
        let t = try await OwnershipTimeline.make()
        func user(_ name: String, _ mark: String) async throws -> PointInTime.UserAt? {
            try await t.pit.user(id: t[name], at: t.at(mark))
        }
        func subs(_ user: PointInTime.UserAt?) -> [String] { user?.identities.map(\.sub) ?? [] }
        #expect(try await user("A", "before") == nil)
        let linked = try #require(try await user("A", "linked"))
        #expect(linked.userID == t["A"] && linked.requestedID == nil && subs(linked) == [t.sub])
        #expect(try linked.decidedBy == t.ids("user_created").last)
        let merged = try #require(try await user("A", "merged"))
        #expect(merged.userID == t["B"] && merged.requestedID == t["A"] && subs(merged) == [t.sub])
        #expect(try merged.decidedBy == t.ids("user_merged")[0] && merged.createdAt < t.at("before"))
        #expect(try await subs(user("B", "merged")) == [t.sub])
        // The unmerge gave s back to A; then s was unlinked there, and relinked to C.
        #expect(try await subs(user("B", "unmerged")) == [])
        #expect(try await subs(user("A", "unmerged")) == [t.sub])
        #expect(try await user("A", "unlinked")?.identities.map(\.state) == [.unlinked])
        #expect(try await subs(user("A", "relinked")) == [])
        #expect(try await subs(user("C", "relinked")) == [t.sub])
        #expect(try await subs(user("C", "movedToD")) == [])
        // D merged into E, E into G: D answers G, then E again once E is unmerged from G.
        let repointed = try #require(try await user("D", "mergedEG"))
        #expect(repointed.userID == t["G"] && repointed.requestedID == t["D"] && subs(repointed) == [t.sub])
        let restored = try #require(try await user("D", "unmergedEG"))
        #expect(restored.userID == t["E"] && restored.requestedID == t["D"] && subs(restored) == [t.sub])
        #expect(try await subs(user("G", "unmergedEG")) == [])
        #expect(try await user("E", "unmergedEG")?.requestedID == nil)
    }
}
