import Foundation
import HTTPTypes
import IdentityMap
import Postgres
import TestSupport
import Testing

/// `Idempotency-Key` (Write+Response.swift, Idempotency.swift) beyond `POST /v1/users`, which
/// APIBehaviourTests covers: every other write route, keys scoped to the token that sent them,
/// and a key whose first request has not committed yet.
@Suite("Idempotency-Key on every write route", .timeLimit(.minutes(3)))
struct IdempotencyRouteTests {
    static func key(_ value: String) -> HTTPFields { [HTTPField.Name("Idempotency-Key")!: value] }
    static let replayed = HTTPField.Name("Idempotent-Replayed")!

    @Test("link, unlink, merge, unmerge and pool registration: a retry replays the first answer and writes nothing more")
    func otherWriteRoutes() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, merge = f.tokens[.merge]!, admin = f.tokens[.admin]!
        let sub = testSub("idem-link")
        try await f.test { client in
            func person() async throws -> String {
                let created = try await client.call(.post, "/v1/users", token: write, json: "{}")
                return try #require(created.json["user_id"] as? String, "\(created)")
            }
            let (a, b) = (try await person(), try await person())
            /// The same request twice under `key`: executed once, then replayed byte for byte. (Without
            /// the key each retry here would be answered differently: 200 unchanged, or a 404/409.)
            func twice(_ method: HTTPRequest.Method, _ uri: String, token: String, json: String?, key: String, status: Int) async throws {
                let first = try await client.call(method, uri, token: token, json: json, headers: Self.key(key))
                let retry = try await client.call(method, uri, token: token, json: json, headers: Self.key(key))
                #expect(first.status == status && first.headers[Self.replayed] == nil, "\(uri): \(first)")
                #expect(retry.status == status && retry.headers[Self.replayed] == "true", "\(uri): \(retry)")
                #expect(retry.text == first.text, "\(uri)")
            }
            let identity = #"{"pool":"us-east-1_Old","sub":"\#(sub)","username":"idem-link"}"#
            try await twice(.post, "/v1/users/\(a)/identities", token: write, json: identity, key: "link-1", status: 201)
            let path = "/v1/users/\(a)/identities/us-east-1_Old/\(sub)"
            try await twice(.delete, path, token: write, json: nil, key: "unlink-1", status: 200)
            try await twice(.post, "/v1/users/\(a)/merge", token: merge, json: #"{"from":"\#(b)"}"#, key: "merge-1", status: 200)
            try await twice(.post, "/v1/users/\(a)/unmerge", token: merge, json: #"{"from":"\#(b)"}"#, key: "unmerge-1", status: 200)
            try await twice(.post, "/v1/pools", token: admin, json: #"{"id":"ap-south-1_Idem"}"#, key: "pool-1", status: 201)
            // A key names one request: the link's key on another route of the same token is refused.
            let elsewhere = try await client.call(.delete, path, token: write, headers: Self.key("link-1"))
            #expect(elsewhere.status == 422 && elsewhere.code == "idempotency_key_reused", "\(elsewhere)")
        }
        for kind in ["identity_linked", "identity_unlinked", "user_merged", "user_unmerged"] {
            #expect(try f.db.count("events", where: "kind = '\(kind)'") == 1, "\(kind)")
        }
        #expect(try f.db.count("events", where: "kind = 'pool_added' AND pool_id = 'ap-south-1_Idem'") == 1)
    }

    @Test("the same key under two tokens is two keys: each request runs, and each token's retry replays its own answer")
    func keysBelongToTheirToken() async throws {
        let f = try await APIFixture.make()
        let store = TokenStore(database: f.db.database)
        let other = try await store.create(name: "second-writer", scopes: [.write], attribution: .init(actor: .system)).run(
            on: f.db.database
        ).1.value
        let write = f.tokens[.write]!
        try await f.test { client in
            let first = try await client.call(.post, "/v1/users", token: write, json: "{}", headers: Self.key("shared-key"))
            let second = try await client.call(.post, "/v1/users", token: other, json: "{}", headers: Self.key("shared-key"))
            #expect(first.status == 201 && second.status == 201, "\(first) \(second)")
            #expect(second.headers[Self.replayed] == nil, "another token's answer was replayed")
            let (firstID, secondID) = (first.json["user_id"] as? String, second.json["user_id"] as? String)
            #expect(firstID != nil && secondID != nil && firstID != secondID)
            let retry = try await client.call(.post, "/v1/users", token: write, json: "{}", headers: Self.key("shared-key"))
            #expect(retry.headers[Self.replayed] == "true" && retry.json["user_id"] as? String == firstID, "\(retry)")
            // Another body under the key is refused for the token that used it.
            let reused = try await client.call(
                .post, "/v1/users", token: other, json: #"{"identities":[]}"#, headers: Self.key("shared-key"))
            #expect(reused.status == 422 && reused.code == "idempotency_key_reused", "\(reused)")
        }
        #expect(try f.db.count("events", where: "kind = 'user_created'") == 2)
    }

    /// The first request under a key holds the key's advisory lock until its transaction ends
    /// (Idempotency.swift). A test connection takes that lock instead, so the "first request"
    /// stays in flight exactly as long as the test needs: no race with a real slow request.
    @Test("a key whose first request is still in flight: 409 idempotency_key_in_use with Retry-After, nothing written; then it runs")
    func keyInUse() async throws {
        let f = try await APIFixture.make()
        let store = TokenStore(database: f.db.database)
        let (token, secret) = try await store.create(name: "in-flight", scopes: [.write], attribution: .init(actor: .system)).run(
            on: f.db.database)
        let lock = "\(token.id.uuidString.lowercased()):busy-key"
        let holder = try f.db.connect()
        try holder.execute("SELECT pg_advisory_lock(hashtextextended(\(lock), 0))")
        let usersBefore = try f.db.count("users")
        try await f.test { client in
            let busy = try await client.call(.post, "/v1/users", token: secret.value, json: "{}", headers: Self.key("busy-key"))
            #expect(busy.status == 409 && busy.code == "idempotency_key_in_use" && busy.isProblem, "\(busy)")
            #expect(busy.headers[.retryAfter] == "1")
            #expect(try f.db.count("users") == usersBefore, "a request under a key in use wrote")
            try holder.execute("SELECT pg_advisory_unlock(hashtextextended(\(lock), 0))")
            let later = try await client.call(.post, "/v1/users", token: secret.value, json: "{}", headers: Self.key("busy-key"))
            #expect(later.status == 201 && later.headers[Self.replayed] == nil, "\(later)")
        }
        #expect(try f.db.count("users") == usersBefore + 1)
    }
}
