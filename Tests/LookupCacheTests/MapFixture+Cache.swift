import IdentityMap
import Postgres
import TestSupport
import Testing

@testable import LookupCache

/// The shared fixture's answers straight from PostgreSQL, to compare the cache with.
extension MapFixture {
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
