import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("Trigger tokens bound to pools (store)", .timeLimit(.minutes(3)))
struct TokenBindingStoreTests {
    @Test("a bound trigger token stores its pools, reads them back everywhere, and names them in token_created")
    func bound() async throws {
        let f = try await MapFixture.make()
        let (token, secret) = try await f.tokens.create(name: "fwd-old", scopes: [.trigger], pools: [f.old], attribution: f.by).run(
            on: f.db.database)
        #expect(token.pools == [f.old] && !token.isUnboundTrigger)
        #expect(try await f.tokens.authenticate(secret)?.pools == [f.old])
        #expect(try await f.tokens.list().first { $0.name == "fwd-old" }?.pools == [f.old])
        let details = try f.db.rows("SELECT details::text AS d FROM events WHERE kind = 'token_created'")[0].decode("d", as: String.self)
        #expect(details.contains(#""pools": ["us-east-1_Old"]"#), "\(details)")
        let revoked = try await f.tokens.revoke(nameOrID: "fwd-old", attribution: f.by).run(on: f.db.database)
        #expect(revoked.pools == [f.old])
    }

    @Test("unbound tokens have no pools and no pools key in their event; a trigger one is flagged unbound")
    func unbound() async throws {
        let f = try await MapFixture.make()
        let (trigger, _) = try await f.tokens.create(name: "fwd-any", scopes: [.trigger], attribution: f.by).run(on: f.db.database)
        let (reader, _) = try await f.tokens.create(name: "reader", scopes: [.resolve], attribution: f.by).run(on: f.db.database)
        #expect(trigger.pools == nil && trigger.isUnboundTrigger)
        #expect(reader.pools == nil && !reader.isUnboundTrigger)
        #expect(try f.db.count("events", where: "kind = 'token_created' AND details ? 'pools'") == 0)
    }

    @Test("pools without the trigger scope, an empty binding, or an unregistered pool are refused; nothing is stored")
    func refused() async throws {
        let f = try await MapFixture.make()
        await #expect(throws: IdentityMapError.poolsNeedTriggerScope) {
            try await f.tokens.create(name: "r", scopes: [.resolve], pools: [f.old], attribution: f.by).run(on: f.db.database)
        }
        await #expect(throws: IdentityMapError.self) {
            try await f.tokens.create(name: "e", scopes: [.trigger], pools: [], attribution: f.by).run(on: f.db.database)
        }
        await #expect(throws: IdentityMapError.unknownPool("ap-south-1_Nope")) {
            try await f.tokens.create(
                name: "u", scopes: [.trigger], pools: [f.old, PoolID("ap-south-1_Nope")!], attribution: f.by
            ).run(on: f.db.database)
        }
        #expect(try f.db.count("api_tokens") == 0)
        #expect(try f.events(kind: "token_created") == 0)
        // The table refuses a binding without the trigger scope too.
        #expect(throws: PostgresError.self) {
            try f.db.connect().execute(
                "INSERT INTO api_tokens (id, name, token_hash, scopes, pools) VALUES (gen_random_uuid(), 'x', '\\x00', '{resolve}', '{us-east-1_Old}')"
            )
        }
    }
}

/// The binding rule and its use on their own, without a database.
@Suite("Trigger tokens bound to pools (rules)", .timeLimit(.minutes(3)))
struct TokenBindingRulesTests {
    @Test("pools bind a token whose only scope is trigger, and name at least one pool")
    func binding() throws {
        let pool = PoolID("us-east-1_Bound")!
        try APIToken.checkBinding(scopes: [.trigger], pools: [pool])
        // The binding limits trigger events only: a bound token with other powers is refused.
        #expect(throws: IdentityMapError.poolsNeedTriggerScope) { try APIToken.checkBinding(scopes: [.trigger, .write], pools: [pool]) }
        try APIToken.checkBinding(scopes: [.resolve], pools: nil)
        try APIToken.checkBinding(scopes: [.trigger], pools: nil)
        #expect(throws: IdentityMapError.poolsNeedTriggerScope) { try APIToken.checkBinding(scopes: [.resolve, .admin], pools: [pool]) }
        #expect(throws: IdentityMapError.self) { try APIToken.checkBinding(scopes: [.trigger], pools: []) }
    }

    @Test("a bound token allows its pools only; an unbound one every pool")
    func allows() {
        let a = PoolID("us-east-1_A")!
        var token = APIToken(
            id: UUID(), name: "t", scopes: [.trigger], pools: [a], createdAt: Date(), revokedAt: nil)
        #expect(token.allowsTriggerEvents(forPool: "us-east-1_A"))
        #expect(!token.allowsTriggerEvents(forPool: "us-east-1_B"))
        #expect(!token.allowsTriggerEvents(forPool: "not a pool"))
        #expect(!token.allowsTriggerEvents(forPool: ""))
        #expect(!token.isUnboundTrigger)
        token.pools = nil
        #expect(token.allowsTriggerEvents(forPool: "us-east-1_B") && token.isUnboundTrigger)
        token.scopes = [.resolve]
        #expect(!token.isUnboundTrigger)
    }
}
