import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import TestSupport
import Testing

/// Trigger tokens bound to pools (issue #18): a forwarder token answers only for its pools, and
/// the events its triggers make name it.
@Suite("Trigger tokens bound to pools", .timeLimit(.minutes(3)))
struct TriggerTokenPoolTests {
    static func bindToken(_ f: APIFixture, name: String, pools: Set<PoolID>) async throws -> String {
        try await TokenStore(database: f.db.database).create(
            name: name, scopes: [.trigger], pools: pools, attribution: Attribution(actor: .system)
        ).run(on: f.db.database).1.value
    }

    @Test("a bound token: 403 pool_not_allowed for another pool (nothing written), 200 for its own; events name the token")
    func boundToken() async throws {
        let f = try await APIFixture.make()
        let bound = try await Self.bindToken(f, name: "fwd-old", pools: [PoolID(f.old)!])
        try await f.test { client in
            let sub = testSub("bound-new")
            let other = try await client.call(
                .post, "/v1/cognito/triggers", token: bound,
                json: try TriggerFlowTests.postAuthEvent(pool: f.new, username: "alice", attributes: ["sub": sub]))
            #expect(other.status == 403 && other.code == "pool_not_allowed" && other.isProblem, "\(other)")
            #expect((other.json["detail"] as? String)?.contains(f.new) == true)
            // Not shaped like a pool: refused the same way, and not echoed.
            let odd = try await client.call(
                .post, "/v1/cognito/triggers", token: bound,
                json: try TriggerFlowTests.postAuthEvent(pool: "<script>", username: "alice", attributes: ["sub": sub]))
            #expect(odd.status == 403 && odd.code == "pool_not_allowed" && !odd.text.contains("<script>"), "\(odd)")

            let own = try await client.call(
                .post, "/v1/cognito/triggers", token: bound,
                json: try TriggerFlowTests.postAuthEvent(pool: f.old, username: "alice", attributes: ["sub": testSub("bound-old")]))
            #expect(own.status == 200, "\(own)")
        }
        #expect(try f.db.count("identities", where: "pool_id = '\(f.new)'") == 0)
        #expect(try f.db.count("identities", where: "pool_id = '\(f.old)'") == 1)
        let actors = try f.db.rows("SELECT DISTINCT actor FROM events WHERE kind IN ('user_created', 'identity_linked')").map {
            try $0.decode("actor", as: String.self)
        }
        #expect(actors == ["trigger:PostAuthentication_Authentication:token:fwd-old"])
    }

    @Test("an unbound trigger token (made before binding) still answers for every pool")
    func unboundToken() async throws {
        let f = try await APIFixture.make()
        let unbound = f.tokens[.trigger]!
        try await f.test { client in
            for pool in [f.old, f.new] {
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: unbound,
                    json: try TriggerFlowTests.postAuthEvent(pool: pool, username: "bob", attributes: ["sub": testSub("unbound-\(pool)")]))
                #expect(reply.status == 200, "\(pool): \(reply)")
            }
        }
        #expect(try f.db.count("identities") == 2)
        #expect(try f.db.count("events", where: "actor = 'trigger:PostAuthentication_Authentication:token:only-trigger'") >= 2)
        #expect(try f.db.count("events", where: "actor LIKE 'trigger:%' AND actor NOT LIKE '%:token:only-trigger'") == 0)
    }

    @Test(
        "POST /v1/tokens with pools: bound trigger token; refused without the trigger scope (422), for an unknown pool (422), a malformed or empty list (400)"
    )
    func createOverHTTP() async throws {
        let f = try await APIFixture.make()
        let admin = f.tokens[.admin]!
        try await f.test { client in
            let created = try await client.call(
                .post, "/v1/tokens", token: admin, json: #"{"name":"fwd","scopes":["trigger"],"pools":["\#(f.new)","\#(f.old)"]}"#)
            #expect(created.status == 201, "\(created)")
            #expect(created.json["pools"] as? [String] == [f.new, f.old].sorted())
            #expect(created.json["unbound_trigger"] == nil)
            let secret = try #require(created.json["token"] as? String)
            #expect(TokenSecret(secret).shape(key: try await TokenStore(database: f.db.database).checksumKey()) == .checksummed)

            let noTrigger = try await client.call(
                .post, "/v1/tokens", token: admin, json: #"{"name":"r","scopes":["resolve"],"pools":["\#(f.old)"]}"#)
            #expect(noTrigger.status == 422 && noTrigger.code == "pools_need_trigger_scope" && noTrigger.isProblem, "\(noTrigger)")
            let unknown = try await client.call(
                .post, "/v1/tokens", token: admin, json: #"{"name":"u","scopes":["trigger"],"pools":["ap-south-1_Nope"]}"#)
            #expect(unknown.status == 422 && unknown.code == "unknown_pool", "\(unknown)")
            for pools in [#"["not a pool"]"#, "[]", #""us-east-1_Old""#] {
                let bad = try await client.call(
                    .post, "/v1/tokens", token: admin, json: #"{"name":"b","scopes":["trigger"],"pools":\#(pools)}"#)
                #expect(bad.status == 400 && bad.code == "invalid_request", "\(pools): \(bad)")
            }
            let badScope = try await client.call(.post, "/v1/tokens", token: admin, json: #"{"name":"s","scopes":["root"]}"#)
            #expect(badScope.status == 400 && (badScope.json["detail"] as? String)?.contains("merge") == true, "\(badScope)")

            let listed = try await client.call(.get, "/v1/tokens", token: admin)
            let tokens = try #require(listed.json["tokens"] as? [[String: Any]])
            let byName = Dictionary(uniqueKeysWithValues: tokens.map { ($0["name"] as? String ?? "", $0) })
            #expect(byName["fwd"]?["pools"] as? [String] == [f.new, f.old].sorted())
            #expect(byName["only-trigger"]?["unbound_trigger"] as? Bool == true)
            #expect(byName["only-resolve"]?["unbound_trigger"] == nil && byName["only-resolve"]?["pools"] == nil)
        }
        let details = try f.db.rows("SELECT details::text AS d FROM events WHERE kind = 'token_created' AND details->>'name' = 'fwd'")
        // jsonb's text form; eu-west-1_New sorts before us-east-1_Old.
        let expected = "\"pools\": [\"\(f.new)\", \"\(f.old)\"]"
        #expect(try details[0].decode("d", as: String.self).contains(expected))
    }
}
