import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("HTTP API", .timeLimit(.minutes(3)))
struct APIBehaviourTests {
    @Test("tour: create, resolve by pool and issuer, link a second pool, merge, history")
    func tour() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!, audit = f.tokens[.audit]!
        try await f.test { client in
            let legacy = "5f0e2a8e-3c1b-4a57-9d1e-0b7a9c3e2f10"
            let created = try await client.call(
                .post, "/v1/users", token: write,
                json: """
                    {"user_id":"\(legacy)","identities":[{"pool":"us-east-1_Old","sub":"\(legacy)","username":"alice","email":"Alice@Example.com","email_verified":true}]}
                    """)
            #expect(created.status == 201, "\(created)")
            #expect(created.json["user_id"] as? String == legacy)

            let byPool = try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(legacy)", token: resolve)
            #expect(byPool.status == 200 && byPool.json["user_id"] as? String == legacy, "\(byPool)")
            #expect((byPool.json["identity"] as? [String: Any])?["status"] as? String == "active")
            let iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old"
            let byIssuer = try await client.call(.get, "/v1/resolve?iss=\(iss)&sub=\(legacy)", token: resolve)
            #expect(byIssuer.json["user_id"] as? String == legacy)

            let linked = try await client.call(
                .post, "/v1/users/\(legacy)/identities", token: write,
                json: """
                    {"pool":"eu-west-1_New","sub":"\(testSub("new-sub-1"))","username":"alice","email":"alice@example.com","email_verified":true}
                    """)
            #expect(linked.status == 201)
            #expect((linked.json["identities"] as? [Any])?.count == 2)
            let again = try await client.call(
                .post, "/v1/users/\(legacy)/identities", token: write,
                json: """
                    {"pool":"eu-west-1_New","sub":"\(testSub("new-sub-1"))","username":"alice","email":"alice@example.com","email_verified":true}
                    """)
            #expect(again.status == 200)

            let other = try await client.call(
                .post, "/v1/users", token: write,
                json: #"{"identities":[{"pool":"eu-west-1_New","sub":"\#(testSub("dup"))","username":"alice2"}]}"#)
            let otherID = try #require(other.json["user_id"] as? String)
            let merged = try await client.call(
                .post, "/v1/users/\(legacy)/merge", token: f.tokens[.merge], json: #"{"from":"\#(otherID)"}"#)
            #expect(merged.status == 200, "\(merged)")
            #expect((merged.json["identities"] as? [Any])?.count == 3)
            let viaOld = try await client.call(.get, "/v1/users/\(otherID)", token: resolve)
            #expect(viaOld.json["user_id"] as? String == legacy)
            #expect(viaOld.json["requested_id"] as? String == otherID)
            let dupResolved = try await client.call(.get, "/v1/resolve?pool=eu-west-1_New&sub=\(testSub("dup"))", token: resolve)
            #expect(dupResolved.json["user_id"] as? String == legacy)

            let batch = try await client.call(
                .post, "/v1/resolve", token: resolve,
                json: """
                    {"items":[{"pool":"eu-west-1_New","sub":"\(testSub("new-sub-1"))"},{"pool":"eu-west-1_New","sub":"\(testSub("unknown"))"},{"iss":"\(iss)","sub":"\(legacy)"}]}
                    """)
            let results = try #require(batch.json["results"] as? [Any])
            #expect(results.count == 3)
            #expect((results[0] as? [String: Any])?["user_id"] as? String == legacy)
            #expect(results[1] is NSNull)
            #expect((results[2] as? [String: Any])?["user_id"] as? String == legacy)
            #expect(!batch.json.keys.contains("errors"), "no errors entry when every item is well-formed: \(batch)")

            let byEmail = try await client.call(.get, "/v1/users?email=ALICE@example.COM", token: resolve)
            #expect((byEmail.json["users"] as? [Any])?.count == 1)

            let unlinked = try await client.call(
                .delete, "/v1/users/\(legacy)/identities/eu-west-1_New/\(testSub("new-sub-1"))", token: write)
            #expect(unlinked.status == 200)
            #expect(try await client.call(.get, "/v1/resolve?pool=eu-west-1_New&sub=\(testSub("new-sub-1"))", token: resolve).status == 404)

            let history = try await client.call(.get, "/v1/users/\(legacy)/events", token: audit)
            let kinds = (history.json["events"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } ?? []
            #expect(
                kinds == [
                    "user_created", "identity_linked", "identity_linked", "user_created", "identity_linked", "user_merged",
                    "identity_unlinked",
                ])
            #expect(history.json["next_cursor"] is NSNull)
            let page = try await client.call(.get, "/v1/users/\(legacy)/events?limit=2", token: audit)
            let cursor = try #require(page.json["next_cursor"] as? String)
            let next = try await client.call(.get, "/v1/users/\(legacy)/events?limit=2&cursor=\(cursor)", token: audit)
            #expect((next.json["events"] as? [[String: Any]])?.first?["kind"] as? String == "identity_linked")
        }
    }

    @Test("bad input answers 4xx problem+json and writes nothing")
    func badInput() async throws {
        let f = try await APIFixture.make(maxBodyBytes: 4096)
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!, merge = f.tokens[.merge]!
        let before = (try f.db.count("users"), try f.db.count("events"), try f.db.count("identities"))
        try await f.test { client in
            let cases: [(HTTPRequest.Method, String, String?, String, Int, String)] = [
                (.post, "/v1/users", "{not json", write, 400, "invalid_request"),
                (.post, "/v1/users", "", write, 400, "invalid_request"),
                (.post, "/v1/users", #"{"user_id":42}"#, write, 400, "invalid_request"),
                // No request field is nullable: null is refused, not read as "absent".
                (.post, "/v1/users", #"{"user_id":null}"#, write, 400, "invalid_request"),
                (.post, "/v1/users", #"{"identities":null}"#, write, 400, "invalid_request"),
                (
                    .post, "/v1/users",
                    #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("s"))","username":"u","provider":null}]}"#,
                    write, 400, "invalid_request"
                ),
                (
                    .post, "/v1/users",
                    #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("s"))","username":"u","email_verified":null}]}"#,
                    write, 400, "invalid_request"
                ),
                (.post, "/v1/users", #"{"user_id":"not-a-uuid"}"#, write, 400, "invalid_request"),
                (
                    .post, "/v1/users", #"{"identities":[{"pool":"nope","sub":"\#(testSub("s"))","username":"u"}]}"#, write, 400,
                    "invalid_request"
                ),
                (.post, "/v1/users", #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("s"))"}]}"#, write, 400, "invalid_request"),
                (.post, "/v1/users", #"{"identities":[{"pool":"us-east-1_Old","sub":"","username":"u"}]}"#, write, 400, "invalid_sub"),
                (.post, "/v1/users", #"{"identities":[{"pool":"us-east-1_Old","sub":"alice","username":"u"}]}"#, write, 400, "invalid_sub"),
                (
                    .post, "/v1/users/01a21996-0000-7000-8000-000000000009/identities",
                    #"{"pool":"us-east-1_Old","sub":"alice","username":"u"}"#, write, 400, "invalid_sub"
                ),
                (
                    .post, "/v1/users", #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("s"))","username":"u","email":"x"}]}"#,
                    write, 400, "invalid_request"
                ),
                (
                    .post, "/v1/users", #"{"identities":[{"pool":"us-west-2_Unknown","sub":"\#(testSub("s"))","username":"u"}]}"#, write,
                    422, "unknown_pool"
                ),
                (
                    .post, "/v1/users",
                    "{\"identities\":["
                        + String(repeating: #"{"pool":"us-east-1_Old","sub":"\#(testSub("s"))","username":"u"},"#, count: 100) + "]}",
                    write, 413, "payload_too_large"
                ),
                (
                    .post, "/v1/users/not-a-uuid/identities", #"{"pool":"us-east-1_Old","sub":"\#(testSub("s"))","username":"u"}"#, write,
                    400, "invalid_request"
                ),
                (
                    .post, "/v1/users/01a21996-0000-7000-8000-000000000009/identities",
                    #"{"pool":"us-east-1_Old","sub":"\#(testSub("s"))","username":"u"}"#, write, 404, "not_found"
                ),
                (
                    .post, "/v1/users/01a21996-0000-7000-8000-000000000009/merge", #"{"from":"01a21996-0000-7000-8000-000000000009"}"#,
                    merge, 422, "invalid_merge"
                ),
                (.post, "/v1/users/01a21996-0000-7000-8000-000000000009/merge", #"{"from":true}"#, merge, 400, "invalid_request"),
                (
                    .delete, "/v1/users/01a21996-0000-7000-8000-000000000009/identities/bad pool/\(testSub("s"))", nil, write, 400,
                    "invalid_request"
                ),
                (.get, "/v1/resolve?pool=bad&sub=\(testSub("x"))", nil, resolve, 400, "invalid_request"),
                (.get, "/v1/resolve?pool=us-east-1_Old", nil, resolve, 400, "invalid_request"),
                (.get, "/v1/resolve?pool=us-east-1_Old&sub=", nil, resolve, 400, "invalid_request"),
                (.get, "/v1/resolve?pool=us-east-1_Old&sub=alice", nil, resolve, 400, "invalid_sub"),
                (.get, "/v1/resolve?pool=us-east-1_Old&iss=https://x&sub=\(testSub("s"))", nil, resolve, 422, "invalid_reference"),
                (.get, "/v1/resolve?sub=\(testSub("s"))", nil, resolve, 422, "invalid_reference"),
                (.get, "/v1/resolve?iss=ftp://x&sub=\(testSub("s"))", nil, resolve, 400, "invalid_request"),
                (.get, "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("unknown"))", nil, resolve, 404, "not_found"),
                (.get, "/v1/users/not-a-uuid", nil, resolve, 400, "invalid_request"),
                (.get, "/v1/users?email=not-an-email", nil, resolve, 400, "invalid_request"),
                (.post, "/v1/resolve", #"{"items":"no"}"#, resolve, 400, "invalid_request"),
                (.get, "/v1/nowhere", nil, resolve, 404, "not_found"),
            ]
            for (method, uri, body, token, status, code) in cases {
                let reply = try await client.call(method, uri, token: token, json: body)
                #expect(reply.status == status, "\(method) \(uri) \(body ?? ""): \(reply)")
                #expect(reply.code == code, "\(method) \(uri): \(reply)")
                #expect(reply.isProblem, "\(method) \(uri): \(reply)")
            }
            // In a batch a malformed item does not fail the request: it is answered null with an error entry.
            let noPool = try await client.call(.post, "/v1/resolve", token: resolve, json: #"{"items":[{"sub":"\#(testSub("s"))"}]}"#)
            #expect(noPool.status == 200, "\(noPool)")
            #expect((noPool.json["results"] as? [Any]).map { $0.count == 1 && $0[0] is NSNull } == true, "\(noPool)")
            let noPoolErrors = noPool.json["errors"] as? [[String: Any]] ?? []
            #expect(noPoolErrors.count == 1 && noPoolErrors.first?["index"] as? Int == 0, "\(noPool)")
            #expect(noPoolErrors.first?["code"] as? String == "invalid_reference", "\(noPool)")
            let items = (0...1000).map { _ in #"{"pool":"us-east-1_Old","sub":"\#(testSub("s"))"}"# }.joined(separator: ",")
            let big = try await client.call(.post, "/v1/resolve", token: resolve, json: #"{"items":[\#(items)]}"#)
            #expect(big.status == 413 || big.code == "batch_too_large")  // 4 KiB limit here; 1 MiB in production
        }
        #expect(try f.db.count("users") == before.0)
        #expect(try f.db.count("events") == before.1)
        #expect(try f.db.count("identities") == before.2)
    }

    @Test("a sub that is not a UUID answers 400 invalid_sub, also with a NUL in it, and writes nothing; upper case is the same sub")
    func invalidSub() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!
        let sub = testSub("nul")
        try await f.test { client in
            let created = try await client.call(
                .post, "/v1/users", token: write, json: #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(sub)","username":"nul"}]}"#)
            #expect(created.status == 201, "\(created)")
            let userID = try #require(created.json["user_id"] as? String)
            let plain = try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(sub)", token: resolve)
            #expect(plain.status == 200 && plain.json["user_id"] as? String == userID, "\(plain)")
            let upper = try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(sub.uppercased())", token: resolve)
            #expect(upper.status == 200 && upper.json["user_id"] as? String == userID, "\(upper)")

            // libpq ends a parameter at a NUL byte: `<sub>%00junk` used to be looked up as `<sub>` and
            // answer its user. Now it, and anything else that is not a UUID, is refused before any SQL.
            let iss = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old"
            for query in [
                "pool=us-east-1_Old&sub=\(sub)%00junk", "pool=us-east-1_Old&sub=not-a-uuid", "pool=us-east-1_Old&sub=%00\(sub)",
                "pool=us-east-1_Old&sub=\(sub)%20", "iss=\(iss)&sub=\(sub)%00junk",
            ] {
                let reply = try await client.call(.get, "/v1/resolve?\(query)", token: resolve)
                #expect(reply.status == 400 && reply.code == "invalid_sub" && reply.isProblem, "\(query): \(reply)")
                #expect(!reply.json.keys.contains("user_id"), "\(query): \(reply)")
            }

            // Identity bodies: refused with the field named, and nothing written.
            let before = [try f.db.count("users"), try f.db.count("identities"), try f.db.count("events")]
            let bad = try await client.call(
                .post, "/v1/users", token: write, json: #"{"identities":[{"pool":"us-east-1_Old","sub":"not-a-uuid","username":"bad"}]}"#)
            #expect(bad.status == 400 && bad.code == "invalid_sub" && bad.isProblem, "\(bad)")
            #expect((bad.json["detail"] as? String)?.hasPrefix("identities[0].sub ") == true, "\(bad)")
            let second = try await client.call(
                .post, "/v1/users", token: write,
                json: #"""
                    {"identities":[{"pool":"eu-west-1_New","sub":"\#(testSub("fine"))","username":"fine"},{"pool":"us-east-1_Old","sub":"\#(sub)\u0000junk","username":"bad"}]}
                    """#)
            #expect(second.status == 400 && second.code == "invalid_sub", "\(second)")
            #expect((second.json["detail"] as? String)?.hasPrefix("identities[1].sub ") == true, "\(second)")
            let link = try await client.call(
                .post, "/v1/users/\(userID)/identities", token: write,
                json: #"{"pool":"eu-west-1_New","sub":"not-a-uuid","username":"nul"}"#)
            #expect(link.status == 400 && link.code == "invalid_sub" && link.isProblem, "\(link)")
            let after = [try f.db.count("users"), try f.db.count("identities"), try f.db.count("events")]
            #expect(after == before)
            #expect(try f.db.count("identities", where: "sub <> '\(sub)'") == 0)
        }
    }

    @Test("a batch with a malformed sub answers the other items, with null and an errors entry for the bad one")
    func batchWithInvalidSub() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!
        try await f.test { client in
            let created = try await client.call(
                .post, "/v1/users", token: write,
                json: #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("linked"))","username":"linked"}]}"#)
            let userID = try #require(created.json["user_id"] as? String, "\(created)")
            // The middle sub holds a JSON-escaped NUL byte.
            let batch = try await client.call(
                .post, "/v1/resolve", token: resolve,
                json: #"""
                    {"items":[{"pool":"us-east-1_Old","sub":"\#(testSub("linked"))"},{"pool":"us-east-1_Old","sub":"bad\u0000"},{"pool":"us-east-1_Old","sub":"\#(testSub("unknown"))"}]}
                    """#)
            #expect(batch.status == 200, "\(batch)")
            let results = try #require(batch.json["results"] as? [Any], "\(batch)")
            #expect(results.count == 3)
            #expect((results.first as? [String: Any])?["user_id"] as? String == userID, "\(batch)")
            #expect(results.dropFirst().allSatisfy { $0 is NSNull }, "\(batch)")
            let errors = try #require(batch.json["errors"] as? [[String: Any]], "\(batch)")
            #expect(errors.count == 1, "\(batch)")
            #expect(errors.first?["index"] as? Int == 1 && errors.first?["code"] as? String == "invalid_sub", "\(batch)")
            #expect((errors.first?["detail"] as? String)?.hasPrefix("items[1].sub ") == true, "\(batch)")
        }
    }

    @Test("a known path with a method it does not serve answers 405 with Allow; an unknown path 404")
    func methodNotAllowed() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let put = try await client.call(.put, "/v1/resolve", token: f.tokens[.resolve])
            #expect(put.status == 405 && put.code == "method_not_allowed" && put.isProblem)
            #expect(put.headers[.allow] == "GET, POST")
            let patch = try await client.call(.patch, "/v1/users/\(UUID())/identities/us-east-1_Old/\(testSub("s"))")
            #expect(patch.status == 405 && patch.headers[.allow] == "DELETE")
            #expect(try await client.call(.delete, "/healthz").status == 405)
            let unknown = try await client.call(.get, "/v1/nothing-here", token: f.tokens[.resolve])
            #expect(unknown.status == 404 && unknown.code == "not_found")
            // Query strings do not confuse the match.
            #expect(try await client.call(.put, "/v1/events?user=x").status == 405)
        }
    }

    @Test("pools in other accounts: POST /v1/pools takes a role (and external id, never shown back); bad access is refused")
    func poolAccess() async throws {
        let f = try await APIFixture.make()
        let admin = f.tokens[.admin]!
        try await f.test { client in
            let added = try await client.call(
                .post, "/v1/pools", token: admin,
                json: #"{"id":"eu-west-3_Acct","role_arn":"arn:aws:iam::210987654321:role/stableid","external_id":"ext-42"}"#
            )
            #expect(added.status == 201, "\(added)")
            #expect(added.json["role_arn"] as? String == "arn:aws:iam::210987654321:role/stableid")
            #expect(added.json["external_id_set"] as? Bool == true && !added.text.contains("ext-42"))
            let orphan = try await client.call(.post, "/v1/pools", token: admin, json: #"{"id":"eu-west-3_Orph","external_id":"ext-42"}"#)
            #expect(orphan.status == 400 && orphan.code == "invalid_request", "\(orphan)")
            let bad = try await client.call(
                .post, "/v1/pools", token: admin, json: #"{"id":"eu-west-3_Bad","role_arn":"arn:aws:iam::1:role/x"}"#)
            #expect(bad.status == 400, "\(bad)")
        }
        #expect(try f.db.count("pools", where: "id IN ('eu-west-3_Orph', 'eu-west-3_Bad')") == 0)
    }

    @Test("boolean query parameters take true or false only")
    func booleanParameters() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let admin = f.tokens[.admin]!
            #expect(try await client.call(.get, "/v1/tokens?include_revoked=true", token: admin).status == 200)
            #expect(try await client.call(.get, "/v1/tokens?include_revoked=false", token: admin).status == 200)
            let odd = try await client.call(.get, "/v1/tokens?include_revoked=yes", token: admin)
            #expect(odd.status == 400 && odd.code == "invalid_request")
        }
    }

    @Test("a batch of 1,001 items is refused with batch_too_large; 1,000 are answered in order")
    func batchLimit() async throws {
        let f = try await APIFixture.make(maxBodyBytes: 1 << 20)
        let resolve = f.tokens[.resolve]!
        try await f.test { client in
            let item = #"{"pool":"us-east-1_Old","sub":"\#(testSub("s"))"}"#
            let tooMany = try await client.call(
                .post, "/v1/resolve", token: resolve, json: #"{"items":[\#(Array(repeating: item, count: 1001).joined(separator: ","))]}"#)
            #expect(tooMany.status == 422 && tooMany.code == "batch_too_large", "\(tooMany.status)")
            let ok = try await client.call(
                .post, "/v1/resolve", token: resolve, json: #"{"items":[\#(Array(repeating: item, count: 1000).joined(separator: ","))]}"#)
            #expect(ok.status == 200)
            #expect((ok.json["results"] as? [Any])?.count == 1000)
        }
    }

    @Test("Idempotency-Key: a retry replays the first answer and records one event; another body is refused")
    func idempotencyOverHTTP() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!
        try await f.test { client in
            let key: HTTPFields = [HTTPField.Name("Idempotency-Key")!: "create-alice-1"]
            let body = #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("idem-1"))","username":"idem"}]}"#
            let first = try await client.call(.post, "/v1/users", token: write, json: body, headers: key)
            let second = try await client.call(.post, "/v1/users", token: write, json: body, headers: key)
            #expect(first.status == 201 && second.status == 201)
            #expect(first.text == second.text)
            #expect(second.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let reused = try await client.call(.post, "/v1/users", token: write, json: #"{"identities":[]}"#, headers: key)
            #expect(reused.status == 422 && reused.code == "idempotency_key_reused")
            let tokenKey = try await client.call(
                .post, "/v1/tokens", token: f.tokens[.admin]!, json: #"{"name":"k","scopes":["resolve"]}"#, headers: key)
            #expect(tokenKey.status == 400)
        }
        #expect(try f.db.count("users") == 1)
        #expect(try f.db.count("events", where: "kind = 'user_created'") == 1)
    }

    @Test("16 concurrent requests linking one sub to different users: one 201, fifteen 409, one event")
    func concurrentLinkRequests() async throws {
        let f = try await APIFixture.make(maxConnections: 16)
        let write = f.tokens[.write]!
        try await f.test { client in
            var ids: [String] = []
            for _ in 0..<16 {
                ids.append(try #require(try await client.call(.post, "/v1/users", token: write, json: "{}").json["user_id"] as? String))
            }
            let statuses = try await withThrowingTaskGroup(of: (Int, String?).self) { group in
                for id in ids {
                    group.addTask {
                        // As a client would: a 503 (a lock wait past the timeout on a loaded
                        // machine) is retried after its Retry-After; it changed nothing.
                        var reply = try await client.call(
                            .post, "/v1/users/\(id)/identities", token: write,
                            json: #"{"pool":"eu-west-1_New","sub":"\#(testSub("contested"))","username":"c"}"#)
                        for _ in 0..<5 where reply.status == 503 {
                            try await Task.sleep(for: .milliseconds(200))
                            reply = try await client.call(
                                .post, "/v1/users/\(id)/identities", token: write,
                                json: #"{"pool":"eu-west-1_New","sub":"\#(testSub("contested"))","username":"c"}"#)
                        }
                        return (reply.status, reply.code)
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0.0 == 201 }.count == 1)
            #expect(statuses.filter { $0.0 == 409 && $0.1 == "identity_already_linked" }.count == 15, "\(statuses)")
        }
        #expect(try f.db.count("events", where: "kind = 'identity_linked'") == 1)
    }

    @Test("with the database down: 503 database_unavailable with Retry-After; /healthz stays 200, /readyz 503")
    func databaseDown() async throws {
        let f = try await APIFixture.make()
        let down = Database(
            primary: PostgresClient(configuration: .init(conninfo: "postgresql://postgres@127.0.0.1:1/x", connectTimeoutSeconds: 1)))
        try await f.app(database: down).test(.router) { client in
            let reply = try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("s"))", token: f.tokens[.resolve])
            #expect(reply.status == 503 && reply.code == "database_unavailable" && reply.isProblem)
            #expect(reply.headers[.retryAfter] == "1")
            #expect(!reply.text.contains("127.0.0.1"))
            #expect(try await client.call(.get, "/healthz").status == 200)
            #expect(try await client.call(.get, "/readyz").status == 503)
        }
    }

    @Test("metrics count requests by route template and status, and show pool gauges")
    func metrics() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            _ = try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("nobody"))", token: f.tokens[.resolve])
            _ = try await client.call(.get, "/v1/users/01a21996-0000-7000-8000-000000000001", token: f.tokens[.resolve])
            let text = try await client.call(.get, "/metrics").text
            #expect(text.contains(#"stableid_http_requests_total{route="/v1/resolve",method="GET",status="404"} 1"#), "\(text)")
            #expect(text.contains(#"route="/v1/users/{id}""#))
            #expect(text.contains("stableid_http_request_duration_seconds_bucket"))
            #expect(text.contains(#"stableid_db_pool_connections{pool="primary",state="open"}"#))
            #expect(!text.contains("01a21996-0000"))
        }
    }

    @Test("admin routes: pools and tokens; the token secret appears only in the create answer")
    func admin() async throws {
        let f = try await APIFixture.make()
        let admin = f.tokens[.admin]!
        try await f.test { client in
            let pool = try await client.call(.post, "/v1/pools", token: admin, json: #"{"id":"ap-south-1_Abc","name":"India"}"#)
            #expect(pool.status == 201 && pool.json["issuer"] as? String == "https://cognito-idp.ap-south-1.amazonaws.com/ap-south-1_Abc")
            #expect(try await client.call(.post, "/v1/pools", token: admin, json: #"{"id":"ap-south-1_Abc"}"#).code == "pool_exists")
            #expect(
                try await client.call(.post, "/v1/pools", token: admin, json: #"{"id":"ap-south-1_Abd","region":"eu-west-1x"}"#).status
                    == 400)
            let listed = try await client.call(.get, "/v1/pools", token: admin)
            #expect((listed.json["pools"] as? [Any])?.count == 3)
            let created = try await client.call(.post, "/v1/tokens", token: admin, json: #"{"name":"svc","scopes":["resolve","write"]}"#)
            let secret = try #require(created.json["token"] as? String)
            #expect(try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("x"))", token: secret).status == 404)
            let list = try await client.call(.get, "/v1/tokens", token: admin)
            #expect(!list.text.contains(secret) && list.text.contains("svc"))
            #expect(try await client.call(.post, "/v1/tokens", token: admin, json: #"{"name":"bad","scopes":["root"]}"#).status == 400)
            #expect(try await client.call(.delete, "/v1/tokens/svc", token: admin).status == 200)
            #expect(try await client.call(.delete, "/v1/tokens/svc", token: admin).status == 404)
        }
    }
}
