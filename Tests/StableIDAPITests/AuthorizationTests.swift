import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import TestSupport
import Testing

@testable import StableIDAPI

/// Every route with the scope it needs. openapi.yaml is checked against this list too.
let protectedRoutes: [(method: HTTPRequest.Method, template: String, uri: String, body: String?, scope: Scope)] = {
    let id = "01a21996-0000-7000-8000-000000000001"
    return [
        (.get, "/v1/resolve", "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("s"))", nil, .resolve),
        (.post, "/v1/resolve", "/v1/resolve", #"{"items":[]}"#, .resolve),
        (.post, "/v1/resolve/token", "/v1/resolve/token", #"{"token":"not-a-token"}"#, .resolve),
        (.get, "/v1/users/{id}", "/v1/users/\(id)", nil, .resolve),
        (.get, "/v1/users", "/v1/users?email=a@example.com", nil, .resolve),
        (.get, "/v1/users/{id}/events", "/v1/users/\(id)/events", nil, .audit),
        (.post, "/v1/users", "/v1/users", "{}", .write),
        (
            .post, "/v1/users/{id}/identities", "/v1/users/\(id)/identities",
            #"{"pool":"us-east-1_Old","sub":"\#(testSub("s"))","username":"u"}"#, .write
        ),
        (.delete, "/v1/users/{id}/identities/{pool}/{sub}", "/v1/users/\(id)/identities/us-east-1_Old/\(testSub("s"))", nil, .write),
        (.post, "/v1/users/{id}/merge", "/v1/users/\(id)/merge", #"{"from":"01a21996-0000-7000-8000-000000000002"}"#, .merge),
        (.post, "/v1/users/{id}/unmerge", "/v1/users/\(id)/unmerge", #"{"from":"01a21996-0000-7000-8000-000000000002"}"#, .merge),
        (.get, "/v1/pools", "/v1/pools", nil, .admin),
        (.post, "/v1/pools", "/v1/pools", #"{"id":"ap-south-1_Zz"}"#, .admin),
        (.patch, "/v1/pools/{id}", "/v1/pools/us-east-1_Old", #"{"any_token_client":true}"#, .admin),
        (.get, "/v1/tokens", "/v1/tokens", nil, .admin),
        (.post, "/v1/tokens", "/v1/tokens", #"{"name":"n","scopes":["resolve"]}"#, .admin),
        (.delete, "/v1/tokens/{name}", "/v1/tokens/nobody", nil, .admin),
        (.get, "/v1/webhooks", "/v1/webhooks", nil, .admin),
        (.post, "/v1/webhooks", "/v1/webhooks", #"{"url":"https://hooks.example.com/in","secret":"not-a-secret"}"#, .admin),
        (.delete, "/v1/webhooks/{id}", "/v1/webhooks/\(id)", nil, .admin),
        (.post, "/v1/webhooks/{id}/enable", "/v1/webhooks/\(id)/enable", nil, .admin),
        (.post, "/v1/webhooks/{id}/disable", "/v1/webhooks/\(id)/disable", nil, .admin),
        (.get, "/v1/events", "/v1/events?kind=user_created", nil, .audit),
        (.get, "/v1/changes", "/v1/changes", nil, .changes),
        (.delete, "/v1/users/{id}/personal-data", "/v1/users/\(id)/personal-data", nil, .admin),
        (.get, "/v1/campaigns", "/v1/campaigns", nil, .admin),
        (.get, "/v1/campaigns/{id}", "/v1/campaigns/\(id)", nil, .admin),
        (.get, "/v1/campaigns/{id}/progress", "/v1/campaigns/\(id)/progress", nil, .audit),
        (.get, "/v1/reconciliation/runs", "/v1/reconciliation/runs", nil, .audit),
        (.get, "/v1/reconciliation/findings", "/v1/reconciliation/findings?state=open", nil, .audit),
        (.get, "/v1/reconciliation/findings/{id}", "/v1/reconciliation/findings/1", nil, .audit),
        (
            .post, "/v1/cognito/triggers", "/v1/cognito/triggers",
            #"{"version":"1","triggerSource":"PostAuthentication_Authentication","region":"us-east-1","userPoolId":"us-east-1_Old","userName":"u","callerContext":{},"request":{"userAttributes":{"sub":"\#(testSub("s"))"}},"response":{}}"#,
            .trigger
        ),
    ]
}()

@Suite("Authorization", .timeLimit(.minutes(3)))
struct AuthorizationTests {
    @Test("every route × every scope: 401 without, with a bad or a revoked token; 403 with the wrong scope")
    func scopeMatrix() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            for route in protectedRoutes {
                let label = "\(route.method) \(route.uri)"
                for token in [nil, "sid_not-a-real-token", f.revokedToken, "Basic abc"] as [String?] {
                    let reply = try await client.call(route.method, route.uri, token: token, json: route.body)
                    #expect(reply.status == 401, "\(label) with \(token ?? "no token"): \(reply)")
                    #expect(reply.code == "unauthorized" && reply.isProblem, "\(label)")
                }
                for scope in Scope.allCases {
                    let reply = try await client.call(route.method, route.uri, token: f.tokens[scope], json: route.body)
                    if scope == route.scope {
                        #expect(![401, 403].contains(reply.status), "\(label) with its scope \(scope): \(reply)")
                    } else {
                        #expect(reply.status == 403, "\(label) with scope \(scope): \(reply)")
                        #expect(reply.code == "forbidden" && reply.isProblem, "\(label)")
                    }
                }
            }
        }
    }

    @Test("health endpoints need no token")
    func healthIsOpen() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            for path in ["/healthz", "/readyz", "/metrics"] {
                var reply = try await client.call(.get, path)
                if path == "/readyz" {
                    // Readiness comes from a background check: wait for its first round.
                    _ = try await waitUntil(within: .seconds(30)) {
                        reply = try await client.call(.get, path)
                        return reply.status == 200
                    }
                }
                #expect(reply.status == 200, "\(path)")
            }
        }
    }

    @Test("a revoked token stops working on a running server: the revocation's NOTIFY evicts it from the token cache")
    func revocationReachesRunningServer() async throws {
        let f = try await APIFixture.make()
        let store = TokenStore(database: f.db.database)
        let secret = try await store.create(name: "short-lived", scopes: [.resolve], attribution: .init(actor: .system)).run(
            on: f.db.database
        ).1.value
        // Its own authenticator, to see the cache; a long TTL, so only an eviction ends a cached entry.
        let authenticator = TokenAuthenticator(store: store, ttl: .seconds(600))
        let lookup = "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("x"))"
        try await f.app(authenticator: authenticator).test(.router) { client in
            // The cache is on only once the revocation listener has connected.
            let listening = try await waitUntil(within: .seconds(30)) { authenticator.isCacheEnabled }
            try #require(listening, "the revocation listener never connected: the token cache stayed off")
            #expect(try await client.call(.get, lookup, token: secret).status == 404)
            #expect(try await client.call(.get, lookup, token: secret).status == 404)
            // Revoked behind the listener's back (no NOTIFY): the token still works, so it is
            // answered from the cache, and only an eviction can end that.
            let connection = try f.db.connect()
            try connection.execute("UPDATE api_tokens SET revoked_at = now() WHERE name = 'short-lived'")
            #expect(try await client.call(.get, lookup, token: secret).status == 404, "the token was not served from the cache")
            try connection.execute("UPDATE api_tokens SET revoked_at = NULL WHERE name = 'short-lived'")
            // Revoked as the service revokes: the same UPDATE plus the NOTIFY the listener hears.
            _ = try await store.revoke(nameOrID: "short-lived", attribution: .init(actor: .system)).run(on: f.db.database)
            var status = 0
            let evicted = try await waitUntil(within: .seconds(10)) {
                status = try await client.call(.get, lookup, token: secret).status
                return status == 401
            }
            #expect(evicted, "the revoked token still works from the cache (last status \(status))")
            #expect(authenticator.isCacheEnabled, "the cache was switched off instead: that is no eviction")
        }
    }
}
