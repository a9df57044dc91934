import AuditTrail
import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import TestSupport
import Testing

@Suite("Audit routes", .timeLimit(.minutes(3)))
struct EventRoutesTests {
    @Test("GET /v1/events: filters (user incl. merged, kind, pool, actor, period), keyset pages, NDJSON and CSV exports equal the JSON")
    func events() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, audit = f.tokens[.audit]!
        try await f.test { client in
            let a = try await client.call(
                .post, "/v1/users", token: write,
                json: #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("ev-a"))","username":"eva"}]}"#)
            let b = try await client.call(
                .post, "/v1/users", token: write,
                json: #"{"identities":[{"pool":"eu-west-1_New","sub":"\#(testSub("ev-b"))","username":"evb"}]}"#)
            let aID = try #require(a.json["user_id"] as? String), bID = try #require(b.json["user_id"] as? String)
            _ = try await client.call(.post, "/v1/users/\(aID)/merge", token: f.tokens[.merge], json: #"{"from":"\#(bID)"}"#)

            let mine = try await client.call(.get, "/v1/events?user=\(aID)", token: audit)
            let kinds = (mine.json["events"] as? [[String: Any]])?.compactMap { $0["kind"] as? String } ?? []
            #expect(kinds == ["user_created", "identity_linked", "user_created", "identity_linked", "user_merged"], "\(mine)")
            // Asked by the merged ID, both history routes answer the person's (the survivor's) events.
            func ids(_ reply: Reply) -> [Int] { (reply.json["events"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } ?? [] }
            let byMergedFilter = try await client.call(.get, "/v1/events?user=\(bID)", token: audit)
            let byMergedRoute = try await client.call(.get, "/v1/users/\(bID)/events", token: audit)
            #expect(ids(byMergedFilter) == ids(mine) && ids(byMergedRoute) == ids(mine) && ids(mine).count == 5)
            let pool = try await client.call(.get, "/v1/events?pool=eu-west-1_New&kind=identity_linked", token: audit)
            #expect((pool.json["events"] as? [[String: Any]])?.map { $0["sub"] as? String } == [testSub("ev-b")])
            let actor = try await client.call(.get, "/v1/events?actor=token:only-merge&kind=user_merged", token: audit)
            #expect((actor.json["events"] as? [Any])?.count == 1)
            let future = try await client.call(.get, "/v1/events?since=2100-01-01T00:00:00Z", token: audit)
            #expect((future.json["events"] as? [Any])?.isEmpty == true)

            var all: [Int] = []
            var cursor: String? = ""
            while let next = cursor {
                let page = try await client.call(.get, "/v1/events?limit=3" + (next.isEmpty ? "" : "&cursor=\(next)"), token: audit)
                all += (page.json["events"] as? [[String: Any]])?.compactMap { $0["id"] as? Int } ?? []
                cursor = page.json["next_cursor"] as? String
            }
            #expect(all == all.sorted() && Set(all).count == all.count)
            #expect(all.count == (try f.db.count("events")))

            let ndjson = try await client.call(.get, "/v1/events", token: audit, headers: [.accept: "application/x-ndjson"])
            #expect(ndjson.headers[.contentType] == "application/x-ndjson")
            let lines = ndjson.text.split(separator: "\n")
            #expect(lines.count == all.count)
            #expect(
                lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }.compactMap {
                    $0["id"] as? Int
                } == all)
            let csv = try await client.call(.get, "/v1/events?format=csv&kind=user_created", token: audit)
            #expect(csv.text.hasPrefix("id,occurred_at,actor,kind,"))
            #expect(csv.text.split(separator: "\n").count == 1 + 2)

            // With chain positions: a sealed export checks offline; an unsealed event says so.
            // The app's own sealer may hold the sealing lock (then sealAll returns at once, sealing
            // nothing): wait until nothing is queued.
            let sealDeadline = ContinuousClock.now + .seconds(30)
            repeat {
                _ = try await AuditChain(database: f.db.database).sealAll()
                if try f.db.count("event_pending") == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            } while ContinuousClock.now < sealDeadline
            #expect(try f.db.count("event_pending") == 0)
            let sealedPage = try await client.call(.get, "/v1/events?chain=true&limit=2", token: audit)
            let chains = (sealedPage.json["events"] as? [[String: Any]])?.compactMap { $0["chain"] as? [String: Any] } ?? []
            #expect(chains.count == 2 && chains[0]["seq"] as? Int == 1 && (chains[0]["hash"] as? String)?.count == 64)
            #expect(((mine.json["events"] as? [[String: Any]])?.first?.keys.contains("chain")) == false)
            let chained = try await client.call(.get, "/v1/events?chain=true&format=ndjson", token: audit)
            let offline = try await withTemporaryDirectory("api-export") { directory in
                let path = directory.appendingPathComponent("export.ndjson").path
                try Data(chained.text.utf8).write(to: URL(fileURLWithPath: path))
                return try ExportVerifier.verify(fileAt: path, checkpoints: [], trustedKey: nil)
            }
            #expect(offline.intact && offline.sealed == all.count && offline.segments == 1, "\(offline.problems)")
            let csvChain = try await client.call(.get, "/v1/events?format=csv&chain=true&kind=user_created", token: audit)
            #expect(csvChain.text.hasPrefix(EventExportFormat.csvHeaderWithChain))

            for bad in ["user=not-a-uuid", "since=yesterday", "format=xml", "limit=0", "cursor=-4", "chain=yes"] {
                let reply = try await client.call(.get, "/v1/events?\(bad)", token: audit)
                #expect(reply.status == 400 && reply.code == "invalid_request", "\(bad)")
            }
        }
    }

    @Test("DELETE /v1/users/{id}/personal-data erases emails and usernames, records the erasure, and 404s unknown users")
    func erasure() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let created = try await client.call(
                .post, "/v1/users", token: f.tokens[.write]!,
                json:
                    #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(testSub("gdpr"))","username":"gdpr.user","email":"gdpr@example.com"}]}"#
            )
            let id = try #require(created.json["user_id"] as? String)
            let erased = try await client.call(.delete, "/v1/users/\(id)/personal-data", token: f.tokens[.admin]!)
            #expect(erased.status == 200 && erased.json["identities"] as? Int == 1)
            let after = try await client.call(.get, "/v1/users/\(id)", token: f.tokens[.resolve]!)
            #expect(!after.text.contains("gdpr@example.com") && !after.text.contains("gdpr.user"))
            #expect(
                try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("gdpr"))", token: f.tokens[.resolve]!).status
                    == 200)
            let missing = try await client.call(
                .delete, "/v1/users/01a21996-0000-7000-8000-00000000dead/personal-data", token: f.tokens[.admin]!)
            #expect(missing.status == 404)
        }
        #expect(try f.db.count("events", where: "kind = 'personal_data_erased'") == 1)
        #expect(try f.db.count("event_personal_data", where: "data::text LIKE '%gdpr%'") == 0)
    }
}
