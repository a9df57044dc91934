import Foundation
import IdentityMap
import Logging
import Postgres
import TestSupport
import Testing

@testable import LookupCache

/// A migrated database with two registered pools, the stores over it, and its answers straight
/// from PostgreSQL to compare the cache with.
struct CacheFixture {
    let db: TestDatabase
    let map: IdentityMapStore
    let pools: PoolStore
    let old = PoolID("us-east-1_Old")!
    let new = PoolID("eu-west-1_New")!
    let by = Attribution(actor: .system, requestID: "test")

    static func make(maxConnections: Int = 8) async throws -> CacheFixture {
        let db = try await TestDatabase.make(maxConnections: maxConnections)
        let fixture = CacheFixture(db: db, map: IdentityMapStore(database: db.database), pools: PoolStore(database: db.database))
        _ = try await fixture.pools.add(id: fixture.old, attribution: fixture.by).run(on: db.database)
        _ = try await fixture.pools.add(id: fixture.new, name: "new pool", attribution: fixture.by).run(on: db.database)
        return fixture
    }

    func identity(_ pool: PoolID, _ name: String, username: String? = nil, email: String? = nil) throws -> NewIdentity {
        try NewIdentity(pool: pool, sub: testSub(name), username: username ?? "user-\(name)", email: email, emailVerified: email != nil)
    }

    @discardableResult
    func user(_ identities: NewIdentity...) async throws -> User {
        try await map.createUser(identities: identities, attribution: by).run(on: db.database)
    }

    /// What `ResolveQueries` answers right now, in order.
    func databaseAnswers(_ references: [IdentityReference]) async throws -> [Resolution?] {
        try await db.database.reader.withConnection { connection in
            try ResolveQueries.resolve(batch: references, on: connection)
        }
    }

    /// Every way of naming `names` in both pools: by pool id and by issuer.
    func references(_ names: [String]) -> [IdentityReference] {
        names.flatMap { name in
            [old, new].flatMap { pool in
                [IdentityReference.pool(pool, sub: testSub(name)), .issuer(pool.defaultIssuer, sub: testSub(name))]
            }
        }
    }

    func resolvableIdentities() throws -> Int {
        try db.count("identities", where: "status <> 'unlinked'")
    }

    /// Fails the test (naming the first difference) unless `replica` holds exactly PostgreSQL's answers.
    func expectSameAnswers(_ replica: Replica, _ names: [String], _ comment: String = "") async throws {
        let asked = references(names)
        let expected = try await databaseAnswers(asked)
        for (reference, answer) in zip(asked, expected) {
            let cached = replica.cache.storedResolution(for: reference)
            #expect(cached == answer, "\(comment) \(reference)")
            if cached != answer { return }
            #expect(replica.cache.cachedResolution(for: reference) == answer, "\(comment) served: \(reference)")
        }
        let resolvable = try resolvableIdentities()
        #expect(replica.cache.count == resolvable, "\(comment) entries")
    }
}

extension LookupCache.Configuration {
    /// Small pages and batches so tests cross their boundaries; a generous staleness bound so a
    /// slow CI machine does not flap the cache off between assertions.
    static func forTests(listen: Bool = true) -> LookupCache.Configuration {
        LookupCache.Configuration(
            shardCount: 8, pollInterval: .milliseconds(20), maxStaleness: .seconds(5), maxGapAge: .seconds(2), warmupPageSize: 7,
            changeBatchSize: 50, listen: listen
        )
    }
}

struct ReplicaTimedOut: Error, CustomStringConvertible {
    var description: String
}

/// One "server": a cache and the follower that keeps it, running in a task of its own.
struct Replica {
    let cache: LookupCache
    let follower: LookupCacheFollower
    let task: Task<Void, Never>

    static func start(url: String, configuration: LookupCache.Configuration = .forTests()) -> Replica {
        let cache = LookupCache(configuration: configuration)
        var logger = Logger(label: "test.lookup-cache")
        logger.logLevel = .error
        return start(cache: cache, follower: LookupCacheFollower(cache: cache, conninfo: url, logger: logger))
    }

    /// Runs an existing follower again (it resumes from its saved cursor when it can).
    static func start(cache: LookupCache, follower: LookupCacheFollower) -> Replica {
        Replica(cache: cache, follower: follower, task: Task { await follower.run() })
    }

    func stop() async {
        task.cancel()
        await task.value
    }

    /// Waits until a poll that began after this call read everything there was, so every write
    /// that finished before the call is applied.
    func caughtUp(timeout: Duration = .seconds(20)) async throws {
        let mark = ContinuousClock.now
        while ContinuousClock.now - mark < timeout {
            let progress = cache.progress
            if progress.state == .live, let at = progress.caughtUpAt, at > mark { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ReplicaTimedOut(description: "the cache did not catch up within \(timeout): \(cache.progress)")
    }
}
