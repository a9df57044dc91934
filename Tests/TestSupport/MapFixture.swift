public import Foundation
public import IdentityMap

/// A migrated database with two registered pools (`old` and `new`), and the identity-map stores
/// over it: what the identity-map and lookup-cache suites both start from. Helpers only one suite
/// uses stay in its own target, as extensions.
public struct MapFixture: Sendable {
    public let db: TestDatabase
    public let map: IdentityMapStore
    public let pools: PoolStore
    public let tokens: TokenStore
    public let old = PoolID("us-east-1_Old")!
    public let new = PoolID("eu-west-1_New")!
    public let by = Attribution(actor: .system, requestID: "test")

    public static func make(maxConnections: Int = 8) async throws -> MapFixture {
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
    public func identity(
        _ pool: PoolID, _ name: String, username: String? = nil, email: String? = nil, verified: Bool = false
    ) throws -> NewIdentity {
        try NewIdentity(pool: pool, sub: testSub(name), username: username ?? "user-\(name)", email: email, emailVerified: verified)
    }

    /// A new person holding `identities`, written through the map as the service writes one.
    @discardableResult
    public func user(id: UUID? = nil, _ identities: NewIdentity...) async throws -> User {
        try await map.createUser(id: id, identities: identities, attribution: by).run(on: db.database)
    }
}
