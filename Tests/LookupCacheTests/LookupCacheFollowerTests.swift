import Foundation
import IdentityMap
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import LookupCache

@Suite("Lookup cache against PostgreSQL: warm-up, the change feed, interruptions", .timeLimit(.minutes(3)))
struct LookupCacheFollowerTests {
    @Test("warm-up loads every resolvable identity, page by page, exactly as PostgreSQL answers it")
    func warmUp() async throws {
        let f = try await MapFixture.make()
        let campaign = UUID()
        try f.db.connect().execute("INSERT INTO campaigns (id, name, target_pool) VALUES (\(campaign), 'c1', \(f.new.rawValue))")
        var names: [String] = []
        for index in 0..<30 {
            let name = "w\(index)"
            names.append(name)
            let identity = try NewIdentity(
                pool: index % 2 == 0 ? f.old : f.new, sub: testSub(name), username: "user-\(name)",
                email: index % 3 == 0 ? nil : "\(name)@example.com", emailVerified: index % 4 == 0,
                provider: index % 5 == 0 ? "Google" : nil, via: index % 2 == 0 ? .import : .lazy,
                campaignID: index % 7 == 0 ? campaign : nil
            )
            let user = try await f.user(identity)
            if index % 6 == 5 {
                _ = try await f.map.unlink(pool: identity.pool, sub: identity.sub, from: user.id, attribution: f.by).run(on: f.db.database)
            }
        }
        // A bulk insert, as an import writes them: one statement, many rows.
        try f.db.connect().execute(
            """
            WITH people AS (INSERT INTO users (id) SELECT gen_random_uuid() FROM generate_series(1, 200) RETURNING id)
            INSERT INTO identities (user_id, pool_id, sub, username, via)
            SELECT id, 'us-east-1_Old', gen_random_uuid()::text, 'bulk-' || id, 'import' FROM people
            """
        )
        let replica = Replica.start(url: f.db.url)
        try await replica.caughtUp()
        let resolvable = try f.resolvableIdentities()
        #expect(replica.cache.count == resolvable)
        try await f.expectSameAnswers(replica, names + ["never-linked"])
        let bulk = try f.db.rows("SELECT sub FROM identities WHERE username LIKE 'bulk-%'").map {
            IdentityReference.pool(f.old, sub: try $0.decode("sub", as: String.self))
        }
        #expect(bulk.count == 200)
        let expected = try await f.databaseAnswers(bulk)
        #expect(bulk.map { replica.cache.cachedResolution(for: $0) } == expected)
        await replica.stop()
        #expect(replica.cache.state == .off)
    }

    @Test("links, unlinks, merges, status and attribute changes and new pools reach the cache through the feed")
    func followsChanges() async throws {
        for listen in [true, false] {
            let f = try await MapFixture.make()
            let replica = Replica.start(url: f.db.url, configuration: .forTests(listen: listen))
            try await replica.caughtUp()
            let names = ["a1", "a2", "b1", "z9"]

            let alice = try await f.user(try f.identity(f.old, "a1"), try f.identity(f.new, "a2", email: "a2@example.com", verified: true))
            try await replica.caughtUp()
            try await f.expectSameAnswers(replica, names, "link (listen: \(listen))")
            #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("a1")))?.userID == alice.id)

            let bob = try await f.user(try f.identity(f.old, "b1"))
            _ = try await f.map.merge(bob.id, into: alice.id, attribution: f.by).run(on: f.db.database)
            try await replica.caughtUp()
            try await f.expectSameAnswers(replica, names, "merge")
            #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("b1")))?.userID == alice.id)

            _ = try await f.map.unlink(pool: f.new, sub: testSub("a2"), from: alice.id, attribution: f.by).run(on: f.db.database)
            try await replica.caughtUp()
            try await f.expectSameAnswers(replica, names, "unlink")
            #expect(replica.cache.storedResolution(for: .pool(f.new, sub: testSub("a2"))) == nil)

            try f.db.connect().execute("UPDATE users SET status = 'deleted' WHERE id = \(alice.id)")
            try f.db.connect().execute(
                "UPDATE identities SET status = 'disabled', email = 'new@example.com' WHERE sub = \(testSub("a1"))")
            try await replica.caughtUp()
            try await f.expectSameAnswers(replica, names, "status and attributes")
            #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("a1")))?.userStatus == .deleted)

            let third = PoolID("ap-southeast-2_Third")!
            _ = try await f.pools.add(id: third, issuer: "https://issuer.example/third", attribution: f.by).run(on: f.db.database)
            let carol = try await f.user(try NewIdentity(pool: third, sub: testSub("c1"), username: "carol"))
            try await replica.caughtUp()
            let byIssuer = IdentityReference.issuer("https://issuer.example/third", sub: testSub("c1"))
            let expected = try await f.databaseAnswers([byIssuer])
            #expect(expected[0] != nil)
            #expect(replica.cache.cachedResolution(for: byIssuer) == expected[0])
            #expect(replica.cache.cachedResolution(for: byIssuer)?.userID == carol.id)
            await replica.stop()
        }
    }

    @Test("a change whose id was taken before a later commit's is applied when it commits (a gap in the log)")
    func gapFilled() async throws {
        let f = try await MapFixture.make()
        let alice = try await f.user(try f.identity(f.old, "late"))
        // Long enough that a slow machine cannot give the gap up before the late commit below.
        var configuration = LookupCache.Configuration.forTests()
        configuration.maxGapAge = .seconds(60)
        let replica = Replica.start(url: f.db.url, configuration: configuration)
        try await replica.caughtUp()

        // A writer that takes its change id now and commits later — what a transaction inside its
        // commit looks like to a follower. (Triggers off, so only the hand-made row announces it.)
        let late = try f.db.connect()
        try late.execute("BEGIN")
        try late.execute("SET LOCAL session_replication_role = replica")
        try late.execute("INSERT INTO identity_changes (pool_id, sub) VALUES (\(f.old.rawValue), \(testSub("late")))")
        try late.execute("UPDATE identities SET username = 'renamed-late' WHERE sub = \(testSub("late"))")

        try await f.user(try f.identity(f.new, "early"))
        try await replica.caughtUp()
        #expect(replica.cache.progress.missingIDs >= 1)
        try await f.expectSameAnswers(replica, ["late", "early"], "before the late commit")

        try late.execute("COMMIT")
        try await replica.caughtUp()
        try await f.expectSameAnswers(replica, ["late", "early"], "after the late commit")
        #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("late")))?.identity.username == "renamed-late")
        #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("late")))?.userID == alice.id)
        #expect(replica.cache.progress.missingIDs == 0)
        await replica.stop()
    }

    @Test("a dropped feed connection switches the cache off; it resumes from its cursor without warming up")
    func resumesAfterDisconnect() async throws {
        let f = try await MapFixture.make()
        try await f.user(try f.identity(f.old, "r1"))
        let replica = Replica.start(url: f.db.url)
        try await replica.caughtUp()
        #expect(replica.cache.progress.warmups == 1)
        try f.db.connect().execute(
            """
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity
            WHERE application_name = 'stableid-lookup-cache' AND datname = current_database()
            """
        )
        try await f.user(try f.identity(f.old, "r2"))
        try await replica.caughtUp()
        try await f.expectSameAnswers(replica, ["r1", "r2"])
        #expect(replica.cache.progress.warmups == 1)
        #expect(try await IdentityChangeLog.prune(olderThan: .seconds(3600), on: f.db.database) == 0)

        // Stopped and started again: changes made meanwhile are read from the log.
        await replica.stop()
        #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("r1"))) == nil)
        try await f.user(try f.identity(f.new, "r3"))
        let restarted = Replica.start(cache: replica.cache, follower: replica.follower)
        try await restarted.caughtUp()
        try await f.expectSameAnswers(restarted, ["r1", "r2", "r3"])
        #expect(restarted.cache.progress.warmups == 1)
        await restarted.stop()
    }

    @Test("changes pruned before they were read, or a TRUNCATE, make the cache warm up again")
    func warmsUpAgain() async throws {
        let f = try await MapFixture.make()
        try await f.user(try f.identity(f.old, "k1"))
        let replica = Replica.start(url: f.db.url)
        try await replica.caughtUp()
        await replica.stop()

        try await f.user(try f.identity(f.old, "k2"))
        try await Task.sleep(for: .milliseconds(20))
        #expect(try await IdentityChangeLog.prune(olderThan: .zero, on: f.db.database) > 0)
        let restarted = Replica.start(cache: replica.cache, follower: replica.follower)
        try await restarted.caughtUp()
        #expect(restarted.cache.progress.warmups == 2)
        try await f.expectSameAnswers(restarted, ["k1", "k2"], "after pruning")

        try f.db.connect().execute("TRUNCATE identities CASCADE")
        try await f.user(try f.identity(f.new, "k3"))
        try await restarted.caughtUp()
        #expect(restarted.cache.progress.warmups == 3)
        try await f.expectSameAnswers(restarted, ["k1", "k2", "k3"], "after TRUNCATE")
        await restarted.stop()
    }
}

@Suite("Lookup cache warm-up after a bulk load (issue #23)", .timeLimit(.minutes(3)))
struct WarmupReplayTests {
    @Test("changes a warm-up's snapshot already reflects are not re-read from the feed")
    func bulkLoadIsNotReplayed() async throws {
        let f = try await MapFixture.make()
        // A bulk load committed just before the server starts: all its changes are younger than
        // the feed's gap allowance, which the start position used to rewind over and re-read.
        try f.db.connect().execute(
            """
            WITH people AS (INSERT INTO users (id) SELECT gen_random_uuid() FROM generate_series(1, 3000) RETURNING id)
            INSERT INTO identities (user_id, pool_id, sub, username, via)
            SELECT id, 'us-east-1_Old', gen_random_uuid()::text, 'bulk-' || id, 'import' FROM people
            """
        )
        // Pages of a few hundred: the point here is the replay after the pages, not paging.
        var configuration = LookupCache.Configuration.forTests()
        configuration.warmupPageSize = 500
        let replica = Replica.start(url: f.db.url, configuration: configuration)
        try await replica.caughtUp(timeout: .seconds(60))
        #expect(replica.cache.count == (try f.resolvableIdentities()))
        #expect(replica.cache.changesApplied.load(ordering: .relaxed) < 100)
        // Following still works after such a start: a new link arrives through the feed.
        let identity = try NewIdentity(pool: f.new, sub: testSub("after-bulk"), username: "after-bulk")
        _ = try await f.user(identity)
        try await replica.caughtUp()
        #expect(replica.cache.cachedResolution(for: .pool(f.new, sub: identity.sub)) != nil)
        #expect(replica.cache.changesApplied.load(ordering: .relaxed) >= 1)
        await replica.stop()
    }
}

@Suite("Lookup cache warm-up snapshot: what it could not see is read later (issue #23)", .timeLimit(.minutes(3)))
struct WarmupSnapshotTests {
    @Test("a change still inside its commit when the warm-up's snapshot was taken is applied when it commits")
    func holeAtWarmup() async throws {
        let f = try await MapFixture.make()
        let alice = try await f.user(try f.identity(f.old, "late"))
        // A writer that took its change id and commits after the snapshot (see gapFilled).
        let late = try f.db.connect()
        try late.execute("BEGIN")
        try late.execute("SET LOCAL session_replication_role = replica")
        try late.execute("INSERT INTO identity_changes (pool_id, sub) VALUES (\(f.old.rawValue), \(testSub("late")))")
        try late.execute("UPDATE identities SET username = 'renamed-late' WHERE sub = \(testSub("late"))")
        try await f.user(try f.identity(f.new, "early"))
        var configuration = LookupCache.Configuration.forTests()
        configuration.maxGapAge = .seconds(60)
        let replica = Replica.start(url: f.db.url, configuration: configuration)
        try await replica.caughtUp()
        #expect(replica.cache.progress.missingIDs >= 1, "the warm-up's snapshot did not see the late id: a gap")
        try await f.expectSameAnswers(replica, ["late", "early"], "before the late commit")

        try late.execute("COMMIT")
        try await replica.caughtUp()
        #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("late")))?.identity.username == "renamed-late")
        #expect(replica.cache.cachedResolution(for: .pool(f.old, sub: testSub("late")))?.userID == alice.id)
        #expect(replica.cache.progress.missingIDs == 0)
        await replica.stop()
    }
}

extension LookupCacheFollowerTests {
    @Test("NOTIFYs of a stream of commits start at most one poll per pollSpacing; the commits of one interval share it")
    func pollSpacing() async throws {
        let f = try await MapFixture.make()
        var configuration = LookupCache.Configuration.forTests()
        configuration.pollSpacing = .milliseconds(500)
        let replica = Replica.start(url: f.db.url, configuration: configuration)
        try await replica.caughtUp()
        _ = try await f.user(try f.identity(f.old, "spaced-0"))
        try await replica.caughtUp()

        let polls = replica.follower.pollsMade
        let started = ContinuousClock.now
        for n in 1...6 { _ = try await f.user(try f.identity(f.old, "spaced-\(n)")) }
        try await replica.caughtUp()
        let elapsed = ContinuousClock.now - started
        let made = replica.follower.pollsMade - polls
        // Without the spacing: a poll per commit, and one per 20 ms pollInterval besides.
        #expect(Double(made) <= 1 + (elapsed / configuration.pollSpacing).rounded(.up), "\(made) polls in \(elapsed)")
        try await f.expectSameAnswers(replica, (0...6).map { "spaced-\($0)" }, "every commit of the interval applied")
        await replica.stop()
    }
}
