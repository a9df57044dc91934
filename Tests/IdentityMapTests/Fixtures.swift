import Foundation
import IdentityMap
import Postgres
import TestSupport

/// A migrated database with two registered pools, and the stores over it.
struct MapFixture {
    let db: TestDatabase
    let map: IdentityMapStore
    let pools: PoolStore
    let tokens: TokenStore
    let old = PoolID("us-east-1_Old")!
    let new = PoolID("eu-west-1_New")!
    let by = Attribution(actor: .system, requestID: "test")

    static func make(maxConnections: Int = 8) async throws -> MapFixture {
        let db = try await TestDatabase.make(maxConnections: maxConnections)
        let fixture = MapFixture(
            db: db,
            map: IdentityMapStore(database: db.database),
            pools: PoolStore(database: db.database),
            tokens: TokenStore(database: db.database)
        )
        _ = try await fixture.pools.add(id: fixture.old, attribution: fixture.by).run(on: db.database)
        _ = try await fixture.pools.add(id: fixture.new, name: "new pool", attribution: fixture.by).run(on: db.database)
        return fixture
    }

    /// An identity whose sub is `testSub(name)`: pass the short name, and compare what comes back
    /// (`.sub`, conflicts, SQL) with `testSub(name)`. The username defaults to `user-<name>`.
    func identity(
        _ pool: PoolID, _ name: String, username: String? = nil, email: String? = nil, verified: Bool = false
    ) throws -> NewIdentity {
        try NewIdentity(pool: pool, sub: testSub(name), username: username ?? "user-\(name)", email: email, emailVerified: verified)
    }

    @discardableResult
    func user(id: UUID? = nil, _ identities: NewIdentity...) async throws -> User {
        try await map.createUser(id: id, identities: identities, attribution: by).run(on: db.database)
    }

    func events(kind: String) throws -> Int {
        try db.count("events", where: "kind = '\(kind)'")
    }
}
