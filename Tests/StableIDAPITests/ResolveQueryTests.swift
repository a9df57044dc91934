import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IdentityMap
import NIOCore
import TestSupport
import Testing

@testable import StableIDAPI

@Suite("Resolve query and bearer parsing", .timeLimit(.minutes(3)))
struct ResolveQueryTests {
    @Test("the single lookup reads its query as Hummingbird's parameters do: percent-encoding, repeats, bare keys, extras")
    func queryForms() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!
        try await f.test { client in
            let sub = testSub("query-forms")
            let created = try await client.call(
                .post, "/v1/users", token: write,
                json: #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(sub)","username":"q"}]}"#)
            #expect(created.status == 201, "\(created)")
            let user = try #require(created.json["user_id"] as? String)
            let encodedSub = sub.replacingOccurrences(of: "-", with: "%2D")
            for query in [
                "pool=us-east-1_Old&sub=\(sub)",
                "sub=\(sub)&pool=us-east-1_Old",
                "pool=us%2Deast%2D1_Old&sub=\(encodedSub)",  // decoded like Hummingbird's parameters
                "pool=us-east-1_Old&sub=\(sub)&pool=eu-west-1_Other",  // the first of a repeated key counts
                "trace=1&&pool=us-east-1_Old&x&sub=\(sub)&consistency=eventual",  // others ignored
                "pool=us-east-1_Old&sub=\(sub.uppercased())&consistency=strong",
                "pool=us-east-1_Old&sub=\(sub)#fragment",  // the query ends at a fragment
            ] {
                let reply = try await client.call(.get, "/v1/resolve?\(query)", token: resolve)
                #expect(reply.status == 200 && reply.json["user_id"] as? String == user, "\(query): \(reply)")
            }
            for (query, status, code) in [
                ("pool=us-east-1_Old&sub", 400, "invalid_request"),  // a bare key has the empty value
                ("pool=us-east-1_Old&sub=", 400, "invalid_request"),
                ("pool=us-east-1_Old", 400, "invalid_request"),
                ("pool=us-east-1_Old&sub=\(sub)x", 400, "invalid_sub"),
                ("pool=us-east-1_Old&sub=\(sub)&consistency=", 400, "invalid_request"),
                ("pool=us-east-1_Old&sub=\(sub)&consistency=Strong", 400, "invalid_request"),
                ("pool=us-east-1_Old&iss=https://x&sub=\(sub)", 422, "invalid_reference"),
                ("sub=\(sub)", 422, "invalid_reference"),
                ("pool=not a pool&sub=\(sub)".replacingOccurrences(of: " ", with: "+"), 400, "invalid_request"),
                ("pool=eu-west-1_Other&sub=\(sub)", 404, "not_found"),
            ] {
                let reply = try await client.call(.get, "/v1/resolve?\(query)", token: resolve)
                #expect(reply.status == status && reply.code == code && reply.isProblem, "\(query): \(reply)")
            }
        }
    }

    @Test("?consistency= wins over the StableID-Consistency header, and each one given must be strong or eventual")
    func consistencyChoice() throws {
        func strong(_ parameter: Substring?, header: String?) throws -> Bool {
            var headers = HTTPFields()
            if let header { headers[ResolveController.consistencyHeader] = header }
            return try ResolveController.isStrong(parameter, headers: headers)
        }
        #expect(try strong(nil, header: nil) == false)
        #expect(try strong("strong", header: nil))
        #expect(try strong(nil, header: "strong"))
        #expect(try strong("eventual", header: "strong") == false)
        #expect(try strong("strong", header: "eventual"))
        let refused: [(Substring?, String)] = [("strong", "sometimes"), ("eventual", ""), ("sometimes", "strong"), (nil, "Strong")]
        for (parameter, header) in refused {
            #expect(throws: Problem.self, "\(parameter ?? "-") / \(header)") { try strong(parameter, header: header) }
        }
    }

    @Test("an invalid StableID-Consistency header is a 400 invalid_request even when ?consistency= is given (schemathesis ST201)")
    func invalidConsistencyHeader() async throws {
        let f = try await APIFixture.make()
        let resolve = f.tokens[.resolve]!
        try await f.test { client in
            let lookup = "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("consistency-header"))"
            for (query, header, status) in [
                ("&consistency=strong", "strong", 404), ("&consistency=eventual", "strong", 404), ("", "strong", 404),
                ("&consistency=strong", "sometimes", 400), ("&consistency=eventual", "Strong", 400), ("", "sometimes", 400),
            ] {
                let reply = try await client.call(
                    .get, lookup + query, token: resolve, headers: [ResolveController.consistencyHeader: header])
                #expect(reply.status == status, "\(query) with \(header): \(reply)")
                if status == 400 { #expect(reply.code == "invalid_request" && reply.isProblem, "\(reply)") }
            }
            let batch = try await client.call(
                .post, "/v1/resolve?consistency=strong", token: resolve,
                json: #"{"items":[{"pool":"us-east-1_Old","sub":"\#(testSub("consistency-header"))"}]}"#,
                headers: [ResolveController.consistencyHeader: "sometimes"])
            #expect(batch.status == 400 && batch.code == "invalid_request" && batch.isProblem, "\(batch)")
        }
    }

    @Test("the one-pass reading equals Hummingbird's decoded parameters for every shape of query")
    func parseMatchesQueryParameters() {
        let sub = "5f0e2a8e-3c1b-4a57-9d1e-0b7a9c3e2f10"
        for target in [
            "/v1/resolve", "/v1/resolve?", "/v1/resolve?&", "/v1/resolve?&&pool=P&&sub=\(sub)&&",
            "/v1/resolve?pool=P&sub=\(sub)", "/v1/resolve?sub=\(sub)&pool=P&pool=Q&sub=x",
            "/v1/resolve?sub", "/v1/resolve?sub=", "/v1/resolve?=x&sub=a=b", "/v1/resolve?pool=P&sub=\(sub)#sub=x",
            "/v1/resolve?pool=P&sub=\(sub)&consistency=strong#frag", "/v1/resolve#frag?pool=P&sub=\(sub)",
            "/v1/resolve?iss=https://issuer.example/a/&sub=\(sub)", "/v1/resolve?po%6Fl=P&sub=\(sub)",
            "/v1/resolve?pool=P&sub=\(sub.replacingOccurrences(of: "-", with: "%2d"))", "/v1/resolve?pool=a+b&sub=\(sub)",
            "/v1/resolve?pool=%zz&sub=\(sub)", "/v1/resolve?Pool=P&SUB=\(sub)&consistency&iss",
            "http://host:8080/v1/resolve?pool=P&sub=\(sub)", "/v1/resolve?pool=é&sub=\(sub)",
            "/v1/resolve?pool=P&sub=\(sub)&at=2026-11-27T09:38:53.123456Z&at=x", "/v1/resolve?at&pool=P&sub=\(sub)",
            "/v1/resolve?pool=P&sub=\(sub)&at=2026-11-27T09%3A38%3A53Z", "/v1/resolve?pool=P&at=2026-11-27T10:38:53+01:00",
        ] {
            let request = Request(
                head: HTTPRequest(method: .get, scheme: nil, authority: nil, path: target), body: .init(buffer: ByteBuffer()))
            let parameters = request.uri.queryParameters
            let expected = ResolveQuery(
                pool: parameters["pool"], iss: parameters["iss"], sub: parameters["sub"], consistency: parameters["consistency"],
                at: parameters["at"])
            #expect(ResolveQuery.parse(request) == expected, "\(target)")
        }
    }

    @Test("bearer credentials: the scheme in any case, one space, 1–256 bytes after it")
    func bearerCredentials() {
        #expect(ScopeMiddleware.bearerCredentials("Bearer sid_abc") == "sid_abc")
        #expect(ScopeMiddleware.bearerCredentials("bearer sid_abc") == "sid_abc")
        #expect(ScopeMiddleware.bearerCredentials("BEARER x") == "x")
        #expect(ScopeMiddleware.bearerCredentials("Bearer  x") == " x")  // not well formed: 401 later
        #expect(ScopeMiddleware.bearerCredentials("Bearer " + String(repeating: "a", count: 256))?.count == 256)
        for refused in [
            "", "Bearer", "Bearer ", "Bearerx y", "Basic abc", "Bearer_x", "Beare x", "Bearer " + String(repeating: "a", count: 257),
        ] {
            #expect(ScopeMiddleware.bearerCredentials(refused) == nil, "\(refused)")
        }
    }
}
