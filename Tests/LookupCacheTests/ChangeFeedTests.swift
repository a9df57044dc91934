import Foundation
import IdentityMap
import Logging
import Postgres
import TestSupport
import Testing

@testable import LookupCache

@Suite("The identity change log (sql/0007)", .timeLimit(.minutes(3)))
struct ChangeFeedTests {
    func changes(_ f: MapFixture, after id: Int64 = 0) throws -> [(id: Int64, pool: String?, sub: String?)] {
        try f.db.rows("SELECT id, pool_id, sub FROM identity_changes WHERE id > \(id) ORDER BY id").map { row in
            (
                id: try row.decode("id", as: Int64.self), pool: try row.decodeIfPresent("pool_id", as: String.self),
                sub: try row.decodeIfPresent("sub", as: String.self)
            )
        }
    }

    func lastID(_ f: MapFixture) throws -> Int64 {
        try f.db.rows("SELECT COALESCE(max(id), 0) AS last FROM identity_changes")[0].decode("last")
    }

    @Test("pool registration, a link, a merge and a user's status change each publish the identities they touch, once")
    func publishes() async throws {
        let f = try await MapFixture.make()
        #expect(try changes(f).map { $0.pool } == [f.old.rawValue, f.new.rawValue])
        #expect(try changes(f).allSatisfy { $0.sub == nil })

        var mark = try lastID(f)
        let alice = try await f.user(try f.identity(f.old, "a1"), try f.identity(f.new, "a2"))
        #expect(Set(try changes(f, after: mark).compactMap { $0.sub }) == [testSub("a1"), testSub("a2")])
        #expect(try changes(f, after: mark).count == 2, "one row per identity, however many statements touched it")

        let bob = try await f.user(try f.identity(f.old, "b1"))
        mark = try lastID(f)
        _ = try await f.map.merge(bob.id, into: alice.id, attribution: f.by).run(on: f.db.database)
        #expect(try changes(f, after: mark).compactMap { $0.sub } == [testSub("b1")])

        mark = try lastID(f)
        try f.db.connect().execute("UPDATE users SET status = 'deleted' WHERE id = \(alice.id)")
        #expect(Set(try changes(f, after: mark).compactMap { $0.sub }) == [testSub("a1"), testSub("a2"), testSub("b1")])

        mark = try lastID(f)
        try f.db.connect().execute("UPDATE users SET updated_at = now()")
        try f.db.connect().execute("UPDATE pools SET name = 'renamed'")
        #expect(try changes(f, after: mark).isEmpty, "nothing an answer holds changed")
        try f.db.connect().execute("UPDATE pools SET issuer = 'https://issuer.example/old' WHERE id = \(f.old.rawValue)")
        #expect(try changes(f, after: mark).map { $0.pool } == [f.old.rawValue])
    }

    @Test("ids are taken at COMMIT: the transaction that commits last gets the larger id; a rollback takes none")
    func commitOrder() async throws {
        let f = try await MapFixture.make()
        let user = try await f.user()
        let slow = try f.db.connect()
        try slow.execute("BEGIN")
        try slow.execute(
            "INSERT INTO identities (user_id, pool_id, sub, username) VALUES (\(user.id), \(f.old.rawValue), \(testSub("slow")), 'slow')")
        _ = try await f.map.link(try f.identity(f.old, "fast"), to: user.id, attribution: f.by).run(on: f.db.database)
        try slow.execute("COMMIT")
        let rows = try changes(f).filter { $0.sub != nil }
        #expect(rows.map { $0.sub } == [testSub("fast"), testSub("slow")])

        let before = try f.db.rows("SELECT last_value FROM identity_changes_id_seq")[0].decode("last_value", as: Int64.self)
        let rolledBack = try f.db.connect()
        try rolledBack.execute("BEGIN")
        try rolledBack.execute(
            "INSERT INTO identities (user_id, pool_id, sub, username) VALUES (\(user.id), \(f.old.rawValue), \(testSub("gone")), 'gone')")
        try rolledBack.execute("ROLLBACK")
        let after = try f.db.rows("SELECT last_value FROM identity_changes_id_seq")[0].decode("last_value", as: Int64.self)
        #expect(after == before)
        #expect(try f.db.count("identity_change_pending") == 0)
        #expect(try f.db.count("identity_change_commit") == 0)
    }

    @Test("the service role's writes publish, and it can follow and prune the log")
    func serviceRole() async throws {
        let f = try await MapFixture.make()
        let url = try f.db.serviceRoleURL()
        let service = Database(primary: PostgresClient(configuration: .init(conninfo: url, maxConnections: 2)))
        defer { service.shutdown() }
        let replica = Replica.start(url: url)
        try await replica.caughtUp()
        _ = try await IdentityMapStore(database: service).createUser(identities: [try f.identity(f.old, "svc")], attribution: f.by)
            .run(on: service)
        try await replica.caughtUp()
        try await f.expectSameAnswers(replica, ["svc"])
        try await Task.sleep(for: .milliseconds(20))
        let removed = try await IdentityChangeLog.prune(olderThan: .zero, on: service)
        #expect(removed >= 3)
        #expect(try f.db.count("identity_changes") == 0)
        let horizon = try f.db.rows("SELECT pruned_through FROM identity_change_horizon")[0].decode("pruned_through", as: Int64.self)
        #expect(horizon >= 3)
        await replica.stop()
    }

    @Test("pruning keeps what is younger than the retention and never moves the horizon back")
    func pruneRetention() async throws {
        let f = try await MapFixture.make()
        try await f.user(try f.identity(f.old, "p1"))
        let before = try f.db.count("identity_changes")
        #expect(try await IdentityChangeLog.prune(on: f.db.database) == 0)
        #expect(try f.db.count("identity_changes") == before)
        try f.db.connect().execute("UPDATE identity_change_horizon SET pruned_through = 1000000")
        try f.db.connect().execute("UPDATE identity_changes SET changed_at = changed_at - interval '1 hour'")
        #expect(try await IdentityChangeLog.prune(on: f.db.database) == before)
        let horizon = try f.db.rows("SELECT pruned_through FROM identity_change_horizon")[0].decode("pruned_through", as: Int64.self)
        #expect(horizon == 1_000_000)
    }
}
