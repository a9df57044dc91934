import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("Point-in-time routes", .timeLimit(.minutes(3)))
struct PointInTimeRouteTests {
    /// The database's clock, read between two steps, in the form the API writes times in.
    static func now(_ f: APIFixture) throws -> String {
        try f.db.rows(#"SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS now"#)[0].decode("now")
    }

    /// A token that may resolve and read the audit trail: what `at=` needs.
    static func auditor(_ f: APIFixture) async throws -> String {
        try await TokenStore(database: f.db.database).create(
            name: "auditor", scopes: [.resolve, .audit], attribution: Attribution(actor: .system)
        ).run(on: f.db.database).1.value
    }

    @Test("GET /v1/resolve?at=: the holder across merge, unmerge, unlink and relink, by pool or iss; 404 before the link")
    func resolveAt() async throws {
        let f = try await APIFixture.make()
        let auditor = try await Self.auditor(f)
        let write = f.tokens[.write]!, merge = f.tokens[.merge]!, resolve = f.tokens[.resolve]!
        let sub = testSub("pit-route")
        let identity = #"{"pool":"us-east-1_Old","sub":"\#(sub)","username":"pit"}"#
        try await f.test { client in
            func user(_ body: String) async throws -> String {
                let reply = try await client.call(.post, "/v1/users", token: write, json: body)
                return try #require(reply.json["user_id"] as? String, "\(reply)")
            }
            func expectOK(_ reply: Reply) { #expect(reply.status == 200 || reply.status == 201, "\(reply)") }
            let b = try await user("{}"), c = try await user("{}")
            let before = try Self.now(f)
            let a = try await user(#"{"identities":[\#(identity)]}"#)
            expectOK(try await client.call(.post, "/v1/users/\(b)/merge", token: merge, json: #"{"from":"\#(a)"}"#))
            let merged = try Self.now(f)
            expectOK(try await client.call(.post, "/v1/users/\(b)/unmerge", token: merge, json: #"{"from":"\#(a)"}"#))
            let unmerged = try Self.now(f)
            expectOK(try await client.call(.delete, "/v1/users/\(a)/identities/us-east-1_Old/\(sub)", token: write))
            let unlinked = try Self.now(f)
            expectOK(try await client.call(.post, "/v1/users/\(c)/identities", token: write, json: identity))

            func lookup(_ at: String, _ token: String, by reference: String) async throws -> Reply {
                try await client.call(.get, "/v1/resolve?\(reference)&sub=\(sub)&at=\(at)", token: token)
            }
            let pool = "pool=us-east-1_Old"
            let atMerge = try await lookup(merged, auditor, by: pool)
            #expect(atMerge.status == 200 && atMerge.json["user_id"] as? String == b, "\(atMerge)")
            #expect(atMerge.json["at"] as? String == merged, "\(atMerge)")
            let shown = try #require(atMerge.json["identity"] as? [String: Any], "\(atMerge)")
            #expect(shown["linked_to"] as? String == a && shown["state"] as? String == "linked" && shown["sub"] as? String == sub)
            #expect(shown["username"] == nil && shown["email"] == nil, "no personal data at T")
            let mergeEvent: Int64 = try f.db.rows("SELECT id FROM events WHERE kind = 'user_merged'")[0].decode("id")
            #expect(atMerge.json["decided_by_event"] as? Int == Int(mergeEvent), "\(atMerge)")
            // The same time percent-encoded (the decoding path of the query), and by issuer.
            let encoded = try await lookup(merged.replacingOccurrences(of: ":", with: "%3A"), auditor, by: pool)
            #expect(encoded.json["user_id"] as? String == b, "\(encoded)")
            let byIssuer = try await lookup(unmerged, auditor, by: "iss=https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Old")
            #expect(byIssuer.status == 200 && byIssuer.json["user_id"] as? String == a, "\(byIssuer)")
            // Unlinked at T is an answer; unknown at T is a 404 of its own.
            let atUnlink = try await lookup(unlinked, auditor, by: pool)
            #expect((atUnlink.json["identity"] as? [String: Any])?["state"] as? String == "unlinked", "\(atUnlink)")
            // Then it belonged to nobody: user_id null (not the last holder), which last_user_id names.
            #expect(atUnlink.json["state"] as? String == "unlinked" && atUnlink.json["user_id"] is NSNull, "\(atUnlink)")
            #expect(atUnlink.json["last_user_id"] as? String == a, "\(atUnlink)")
            #expect(atMerge.json["last_user_id"] as? String == b && atMerge.json["state"] as? String == "linked", "\(atMerge)")
            let early = try await lookup(before, auditor, by: pool)
            #expect(early.status == 404 && early.code == "unknown_at_time" && early.isProblem, "\(early)")
            // Without at=, the present: C.
            let present = try await client.call(.get, "/v1/resolve?\(pool)&sub=\(sub)", token: resolve)
            #expect(present.json["user_id"] as? String == c, "\(present)")
            // A time that is none, and tokens without both scopes.
            for bad in ["yesterday", "2026-02-30T00:00:00Z", ""] {
                let reply = try await lookup(bad, auditor, by: pool)
                #expect(reply.status == 400 && reply.code == "invalid_time" && reply.isProblem, "\(bad): \(reply)")
            }
            for token in [resolve, f.tokens[.audit]!] {
                let reply = try await lookup(merged, token, by: pool)
                #expect(reply.status == 403 && reply.code == "forbidden" && reply.isProblem, "\(reply)")
            }
        }
    }

    @Test("GET /v1/users/{id}?at=: a merged ID answers its survivor then, with the identities then; 404 before creation")
    func userAt() async throws {
        let f = try await APIFixture.make()
        let auditor = try await Self.auditor(f)
        let write = f.tokens[.write]!, merge = f.tokens[.merge]!, resolve = f.tokens[.resolve]!
        let sub = testSub("pit-user")
        try await f.test { client in
            let survivor = try await client.call(.post, "/v1/users", token: write, json: "{}")
            let b = try #require(survivor.json["user_id"] as? String, "\(survivor)")
            let before = try Self.now(f)
            let created = try await client.call(
                .post, "/v1/users", token: write,
                json: #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(sub)","username":"pit-user"}]}"#)
            let a = try #require(created.json["user_id"] as? String, "\(created)")
            let linked = try Self.now(f)
            let merged = try await client.call(.post, "/v1/users/\(b)/merge", token: merge, json: #"{"from":"\#(a)"}"#)
            #expect(merged.status == 200, "\(merged)")

            let atLink = try await client.call(.get, "/v1/users/\(a)?at=\(linked)", token: auditor)
            #expect(atLink.status == 200 && atLink.json["user_id"] as? String == a && atLink.json["requested_id"] == nil, "\(atLink)")
            let held = (atLink.json["identities"] as? [[String: Any]]) ?? []
            #expect(held.map { $0["sub"] as? String } == [sub] && held.first?["username"] == nil, "\(atLink)")
            let later = try await client.call(.get, "/v1/users/\(a)?at=2100-01-01T00:00:00Z", token: auditor)
            #expect(later.json["user_id"] as? String == b && later.json["requested_id"] as? String == a, "\(later)")
            #expect(((later.json["identities"] as? [[String: Any]]) ?? []).map { $0["sub"] as? String } == [sub], "\(later)")

            let early = try await client.call(.get, "/v1/users/\(a)?at=\(before)", token: auditor)
            #expect(early.status == 404 && early.code == "unknown_at_time" && early.isProblem, "\(early)")
            let bad = try await client.call(.get, "/v1/users/\(a)?at=soon", token: auditor)
            #expect(bad.status == 400 && bad.code == "invalid_time", "\(bad)")
            let forbidden = try await client.call(.get, "/v1/users/\(a)?at=\(linked)", token: resolve)
            #expect(forbidden.status == 403 && forbidden.code == "forbidden", "\(forbidden)")
            let present = try await client.call(.get, "/v1/users/\(a)", token: resolve)
            #expect(present.status == 200 && present.json["user_id"] as? String == b, "\(present)")
        }
    }
}
