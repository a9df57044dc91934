import AuditTrail
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("Identity map rules", .timeLimit(.minutes(3)))
struct IdentityMapRulesTests {
    @Test("create with a given ID (a legacy sub) and identities; resolves by pool and by issuer")
    func createAndResolve() async throws {
        let f = try await MapFixture.make()
        let legacy = UUID()
        let user = try await f.user(
            id: legacy, try f.identity(f.old, "sub-1", username: "alice", email: "alice@example.com", verified: true))
        #expect(user.id == legacy)
        #expect(user.status == .active)
        #expect(user.identities.map(\.sub) == [testSub("sub-1")])
        let byPool = try #require(try await f.map.resolve(.pool(f.old, sub: testSub("sub-1"))))
        #expect(byPool.userID == legacy)
        #expect(byPool.identity.email == "alice@example.com")
        let byIssuer = try #require(
            try await f.map.resolve(.issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old/", sub: testSub("sub-1")))
        )
        #expect(byIssuer.userID == legacy)
        #expect(try await f.map.resolve(.pool(f.new, sub: testSub("sub-1"))) == nil)
        #expect(
            try await f.map.resolve(.issuer("https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Other", sub: testSub("sub-1"))) == nil)
        #expect(try f.events(kind: "user_created") == 1)
        #expect(try f.events(kind: "identity_linked") == 1)
    }

    @Test("new users get time-ordered version 7 UUIDs")
    func uuidV7() async throws {
        let f = try await MapFixture.make()
        let first = try await f.user()
        try await Task.sleep(for: .milliseconds(2))
        let second = try await f.user()
        #expect(first.id.uuidString.dropFirst(14).first == "7")
        #expect(["8", "9", "A", "B"].contains(first.id.uuidString.dropFirst(19).first.map(String.init)))
        #expect(first.id.uuidString < second.id.uuidString)
    }

    @Test("conflicts: existing user ID, unknown pool, duplicate identity in one request")
    func createConflicts() async throws {
        let f = try await MapFixture.make()
        let id = UUID()
        try await f.user(id: id)
        await #expect(throws: IdentityMapError.userAlreadyExists(id)) { try await f.user(id: id) }
        await #expect(throws: IdentityMapError.unknownPool("us-west-2_Nope")) {
            try await f.user(try f.identity(PoolID("us-west-2_Nope")!, "s"))
        }
        await #expect(throws: IdentityMapError.self) {
            try await f.user(try f.identity(f.old, "same"), try f.identity(f.old, "same", username: "other"))
        }
        #expect(try f.db.count("users") == 1)
    }

    @Test("the hot-path writes (linkIdentity, createPerson) answer an unregistered pool as unknown_pool and write nothing")
    func hotPathUnknownPool() async throws {
        let f = try await MapFixture.make()
        let person = try await f.user(try f.identity(f.old, "owner"))
        let (users, identities, events) = (try f.db.count("users"), try f.db.count("identities"), try f.db.count("events"))
        let nope = PoolID("eu-west-1_Nope")!
        await #expect(throws: IdentityMapError.unknownPool(nope.rawValue)) {
            _ = try await f.map.linkIdentity(try f.identity(nope, "linked"), to: person.id, attribution: f.by).run(on: f.db.database)
        }
        await #expect(throws: IdentityMapError.unknownPool(nope.rawValue)) {
            _ = try await f.map.createPerson(with: try f.identity(nope, "created"), attribution: f.by).run(on: f.db.database)
        }
        #expect(try f.db.count("users") == users)
        #expect(try f.db.count("identities") == identities)
        #expect(try f.db.count("events") == events)
    }

    @Test("a failed multi-identity create writes nothing at all: no user, no identity, no event")
    func createIsAtomic() async throws {
        let f = try await MapFixture.make()
        try await f.user(try f.identity(f.old, "taken"))
        let eventsBefore = try f.db.count("events")
        await #expect(throws: IdentityMapError.identityAlreadyLinked(pool: "us-east-1_Old", sub: testSub("taken"))) {
            try await f.user(try f.identity(f.new, "fresh"), try f.identity(f.old, "taken", username: "x"))
        }
        #expect(try f.db.count("users") == 1)
        #expect(try f.db.count("identities") == 1)
        #expect(try f.db.count("events") == eventsBefore)
    }

    @Test("linking: another user's sub conflicts; the same link again is a no-op without a second event")
    func linkRules() async throws {
        let f = try await MapFixture.make()
        let alice = try await f.user(try f.identity(f.old, "a-old", username: "alice"))
        let bob = try await f.user()
        let linked = try await f.map.link(try f.identity(f.new, "a-new", username: "alice"), to: alice.id, attribution: f.by).run(
            on: f.db.database)
        #expect(linked.created)
        #expect(Set(linked.user.identities.map(\.pool)) == [f.old, f.new])
        let again = try await f.map.link(try f.identity(f.new, "a-new", username: "alice"), to: alice.id, attribution: f.by).run(
            on: f.db.database)
        #expect(!again.created)
        #expect(try f.events(kind: "identity_linked") == 2)
        await #expect(throws: IdentityMapError.identityAlreadyLinked(pool: "eu-west-1_New", sub: testSub("a-new"))) {
            try await f.map.link(try f.identity(f.new, "a-new", username: "bob"), to: bob.id, attribution: f.by).run(on: f.db.database)
        }
        await #expect(throws: IdentityMapError.usernameTaken(pool: "eu-west-1_New", username: "alice")) {
            try await f.map.link(try f.identity(f.new, "b-new", username: "alice"), to: bob.id, attribution: f.by).run(on: f.db.database)
        }
        await #expect(throws: IdentityMapError.userNotFound(UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)))) {
            try await f.map.link(
                try f.identity(f.new, "x"), to: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1)), attribution: f.by
            )
            .run(on: f.db.database)
        }
    }

    @Test("a deleted Cognito user's username can be reused by a new sub in the same pool")
    func deletedUsernameReusable() async throws {
        let f = try await MapFixture.make()
        try await f.user(try f.identity(f.old, "gone", username: "carol"))
        try f.db.connect().execute("UPDATE identities SET status = 'deleted' WHERE sub = \(testSub("gone"))")
        let again = try await f.user(try f.identity(f.old, "back", username: "carol"))
        #expect(again.identities.first?.username == "carol")
    }

    @Test("unlink is soft: kept for history, stops resolving, idempotent, and the sub can be linked again")
    func unlinkRules() async throws {
        let f = try await MapFixture.make()
        let alice = try await f.user(try f.identity(f.old, "s1", username: "alice"))
        let bob = try await f.user()
        let after = try await f.map.unlink(pool: f.old, sub: testSub("s1"), from: alice.id, attribution: f.by).run(on: f.db.database)
        #expect(after.identities.first?.status == .unlinked)
        #expect(after.identities.first?.unlinkedAt != nil)
        #expect(try await f.map.resolve(.pool(f.old, sub: testSub("s1"))) == nil)
        _ = try await f.map.unlink(pool: f.old, sub: testSub("s1"), from: alice.id, attribution: f.by).run(on: f.db.database)
        #expect(try f.events(kind: "identity_unlinked") == 1)
        await #expect(throws: IdentityMapError.identityNotFound(pool: "us-east-1_Old", sub: testSub("other"))) {
            try await f.map.unlink(pool: f.old, sub: testSub("other"), from: alice.id, attribution: f.by).run(on: f.db.database)
        }
        let relinked = try await f.map.link(try f.identity(f.old, "s1", username: "alice"), to: bob.id, attribution: f.by).run(
            on: f.db.database)
        #expect(relinked.created)
        #expect(try await f.map.resolve(.pool(f.old, sub: testSub("s1")))?.userID == bob.id)
        let event = try f.db.rows(
            "SELECT details->>'relinked_from' AS previous FROM events WHERE kind = 'identity_linked' ORDER BY id DESC LIMIT 1")
        #expect(try event[0].decode("previous", as: String.self) == alice.id.uuidString.lowercased())
    }

    @Test("merge chains A→B→C: every old ID and every sub resolves to C")
    func mergeChains() async throws {
        let f = try await MapFixture.make()
        let a = try await f.user(try f.identity(f.old, "a"))
        let b = try await f.user(try f.identity(f.old, "b"))
        let c = try await f.user(try f.identity(f.new, "c"))
        let ab = try await f.map.merge(a.id, into: b.id, attribution: f.by).run(on: f.db.database)
        #expect(Set(ab.identities.map(\.sub)) == [testSub("a"), testSub("b")])
        let bc = try await f.map.merge(b.id, into: c.id, attribution: f.by).run(on: f.db.database)
        #expect(Set(bc.identities.map(\.sub)) == [testSub("a"), testSub("b"), testSub("c")])
        for sub in ["a", "b"] {
            #expect(try await f.map.resolve(.pool(f.old, sub: testSub(sub)))?.userID == c.id, "\(sub)")
        }
        let viaA = try #require(try await f.map.user(a.id))
        #expect(viaA.id == c.id)
        #expect(viaA.requestedID == a.id)
        // Path compression: A points straight at C.
        let row = try f.db.rows("SELECT merged_into FROM users WHERE id = \(a.id)")[0]
        #expect(try row.decode("merged_into", as: UUID.self) == c.id)
        // History of C includes what happened to A and B.
        let history = try #require(try await EventQuery(database: f.db.database).history(of: c.id))
        #expect(history.filter { $0.kind == "user_created" }.count == 3)
        #expect(history.filter { $0.kind == "user_merged" }.count == 2)
    }

    @Test("merge refusals and retries")
    func mergeRefusals() async throws {
        let f = try await MapFixture.make()
        let a = try await f.user()
        let b = try await f.user()
        let c = try await f.user()
        await #expect(throws: IdentityMapError.cannotMergeIntoSelf) {
            try await f.map.merge(a.id, into: a.id, attribution: f.by).run(on: f.db.database)
        }
        _ = try await f.map.merge(a.id, into: b.id, attribution: f.by).run(on: f.db.database)
        _ = try await f.map.merge(a.id, into: b.id, attribution: f.by).run(on: f.db.database)  // retry: no-op
        #expect(try f.events(kind: "user_merged") == 1)
        await #expect(throws: IdentityMapError.userNotActive(a.id, .merged)) {
            try await f.map.merge(a.id, into: c.id, attribution: f.by).run(on: f.db.database)
        }
        await #expect(throws: IdentityMapError.userNotActive(a.id, .merged)) {
            try await f.map.merge(c.id, into: a.id, attribution: f.by).run(on: f.db.database)
        }
        // Linking to a merged ID links to its survivor.
        let linked = try await f.map.link(try f.identity(f.new, "late"), to: a.id, attribution: f.by).run(on: f.db.database)
        #expect(linked.user.id == b.id)
        #expect(linked.user.requestedID == a.id)
    }

    @Test("16 concurrent links of one sub to different users: exactly one wins, with one event")
    func concurrentLinks() async throws {
        let f = try await MapFixture.make(maxConnections: 16)
        var users: [User] = []
        for _ in 0..<16 { users.append(try await f.user()) }
        let identity = try f.identity(f.new, "contested", username: "contested")
        let outcomes = await withTaskGroup(of: Result<Bool, any Error>.self) { group in
            for user in users {
                group.addTask {
                    do {
                        return .success(try await f.map.link(identity, to: user.id, attribution: f.by).run(on: f.db.database).created)
                    } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let wins = outcomes.filter { if case .success(true) = $0 { return true } else { return false } }
        // A loser is told the sub is linked elsewhere, or — when it lost the race between its insert
        // and its lock — to retry (409 concurrent_update over HTTP); never anything else.
        let conflicts = outcomes.filter {
            if case .failure(let error) = $0 {
                return error as? IdentityMapError == .identityAlreadyLinked(pool: "eu-west-1_New", sub: testSub("contested"))
                    || error is RetryableConflict
            }
            return false
        }
        #expect(wins.count == 1)
        #expect(conflicts.count == 15, "\(outcomes)")
        #expect(try f.events(kind: "identity_linked") == 1)
        #expect(try f.db.count("identities", where: "sub = '\(testSub("contested"))'") == 1)
    }

    @Test("batch resolve answers in order, mixing pool and issuer, with nulls for unknowns")
    func batchResolve() async throws {
        let f = try await MapFixture.make()
        let a = try await f.user(try f.identity(f.old, "a"))
        let b = try await f.user(try f.identity(f.new, "b"))
        let results = try await f.map.resolve(batch: [
            .pool(f.new, sub: testSub("b")), .pool(f.old, sub: testSub("missing")),
            .issuer("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old", sub: testSub("a")), .pool(f.old, sub: testSub("a")),
        ])
        #expect(results.map { $0?.userID } == [b.id, nil, a.id, a.id])
        let tooMany = [IdentityReference](repeating: .pool(f.old, sub: testSub("a")), count: 1001)
        await #expect(throws: IdentityMapError.self) { try await f.map.resolve(batch: tooMany) }
    }

    @Test("an upper-case UUID sub is stored and answered in lower case")
    func subStoredLowerCase() async throws {
        let f = try await MapFixture.make()
        let upper = testSub("upper").uppercased()
        let user = try await f.user(try NewIdentity(pool: f.old, sub: upper, username: "upper"))
        #expect(user.identities.map(\.sub) == [testSub("upper")])
        #expect(try f.db.count("identities", where: "sub = '\(testSub("upper"))'") == 1)
        #expect(try f.db.count("identities", where: "sub = '\(upper)'") == 0)
        #expect(try await f.map.resolve(.pool(f.old, sub: testSub("upper")))?.userID == user.id)
    }

    @Test("email matching: case, NFKC and composed/decomposed forms agree; provider tricks do not merge")
    func emailNormalization() async throws {
        #expect(EmailAddress.normalize("  Alice@Example.COM ") == "alice@example.com")
        #expect(EmailAddress.normalize("ｊｏｓé@ＥＸＡＭＰＬＥ.com") == EmailAddress.normalize("JOSE\u{301}@example.com"))
        #expect(EmailAddress.normalize("ÅSA@example.com") == EmailAddress.normalize("a\u{30A}sa@example.com"))
        #expect(EmailAddress.normalize("first.last+tag@gmail.com") != EmailAddress.normalize("firstlast@gmail.com"))
        for bad in ["", "no-at-sign", "@example.com", "a@", "a@b@c", "a b@example.com", "a\u{0}@example.com"] {
            #expect(EmailAddress.normalize(bad) == nil, "\(bad)")
        }
        let f = try await MapFixture.make()
        let u = try await f.user(try f.identity(f.old, "e1", email: "José@Example.com", verified: true))
        let found = try await f.map.users(email: "JOSE\u{301}@EXAMPLE.COM")
        #expect(found.map(\.id) == [u.id])
        #expect(try await f.map.users(email: "jose@example.com").isEmpty)
    }

    @Test("input validation rejects non-UUID subs, control characters, over-long values and bad providers")
    func validation() throws {
        let pool = PoolID("us-east-1_X")!
        let sub = testSub("s")
        // A sub must be a UUID: empty, control characters, over-long, a username, trailing bytes after a
        // NUL (which libpq would cut off) or a UUID without its dashes are all refused the same way.
        for bad in [
            "", "a\nb", String(repeating: "x", count: 256), "not-a-uuid", sub + "\u{0}junk", "\u{0}" + sub,
            sub + " ", sub.replacingOccurrences(of: "-", with: ""), "{\(sub)}", String(sub.dropLast()) + "g",
        ] {
            #expect(throws: IdentityMapError.invalidSub(field: "sub"), "\(bad.debugDescription)") {
                try NewIdentity(pool: pool, sub: bad, username: "u")
            }
            // Both spellings of the check: a `String` (lookups) and any other text.
            #expect(CognitoSub.canonical(bad) == nil && CognitoSub.canonical(bad[...]) == nil, "\(bad.debugDescription)")
        }
        for bad in [
            String(sub.dropLast()) + "é", String(sub.dropLast()) + "G", "-" + String(sub.dropFirst()),
            sub.replacingOccurrences(of: "-", with: "_"),
        ] {
            #expect(CognitoSub.canonical(bad) == nil && CognitoSub.canonical(bad[...]) == nil, "\(bad.debugDescription)")
        }
        for spelling in [sub, sub.uppercased(), String(sub.prefix(10)).uppercased() + sub.dropFirst(10)] {
            #expect(CognitoSub.canonical(spelling) == sub && CognitoSub.canonical(spelling[...]) == sub, "\(spelling)")
        }
        // Cognito issues lower case; an upper-case UUID is the same sub and is kept in lower case.
        #expect(try NewIdentity(pool: pool, sub: sub.uppercased(), username: "u").sub == sub)
        #expect(try NewIdentity(pool: pool, sub: sub, username: "u").sub == sub)
        #expect(throws: IdentityMapError.self) { try NewIdentity(pool: pool, sub: sub, username: "u", provider: "Goo gle") }
        #expect(throws: IdentityMapError.self) { try NewIdentity(pool: pool, sub: sub, username: "u", email: "nope") }
        #expect(throws: IdentityMapError.self) { try NewIdentity(pool: pool, sub: sub, username: "a\nb") }
        #expect(PoolID("us-east-1_AbC123") != nil)
        #expect(PoolID("us-gov-west-1_X9") != nil)
        for bad in ["", "us-east-1", "us-east-1_", "US-east-1_X", "us-east_X", "us-east-1_X'--", "../us-east-1_X"] {
            #expect(PoolID(bad) == nil, "\(bad)")
        }
    }
}
