import Foundation
import HTTPTypes
import IdentityMap
import TestSupport
import Testing

@Suite("Lookups from the read model", .timeLimit(.minutes(3)))
struct LookupCacheRouteTests {
    /// The value of one Prometheus sample (0 when absent).
    static func sample(_ metrics: String, _ name: String) -> Double {
        for line in metrics.split(separator: "\n") where line.hasPrefix(name + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }

    @Test(
        "answers from memory once live; a write through this server is read back at once; one made elsewhere arrives through the feed; strong reads PostgreSQL"
    )
    func readModel() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!
        let (subA, subB) = (testSub("cache-a"), testSub("cache-b"))
        try await f.test { client in
            let created = try await client.call(
                .post, "/v1/users", token: write,
                json:
                    #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(subA)","username":"ca"},{"pool":"eu-west-1_New","sub":"\#(subB)","username":"cb"}]}"#
            )
            let id = try #require(created.json["user_id"] as? String)
            // A sub linked a moment ago resolves at once (a miss asks PostgreSQL).
            #expect(try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(subA)", token: resolve).status == 200)

            // Wait for the follower to be live, then lookups are hits.
            let deadline = ContinuousClock.now + .seconds(10)
            var live = false
            while !live, ContinuousClock.now < deadline {
                let metrics = try await client.call(.get, "/metrics").text
                live = Self.sample(metrics, #"stableid_lookup_cache_state{state="live"}"#) == 1
                if !live { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(live, "the cache went live")
            // The write above is read back from PostgreSQL until the follower has polled past it
            // (read-your-writes); then lookups are hits.
            let hitName = #"stableid_lookup_cache_lookups_total{result="hit"}"#
            var hitting = false
            while !hitting, ContinuousClock.now < deadline {
                let start = Self.sample(try await client.call(.get, "/metrics").text, hitName)
                _ = try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(subA)", token: resolve)
                hitting = Self.sample(try await client.call(.get, "/metrics").text, hitName) > start
                if !hitting { try await Task.sleep(for: .milliseconds(20)) }
            }
            #expect(hitting, "lookups became hits once the follower had caught up past the write")
            // Five single lookups and one batch item, all hits. On a saturated machine the follower
            // may fall behind its staleness bound for a moment (lookups then ask PostgreSQL, as they
            // must): the round is tried again, a few times, and must be all hits once.
            var (before, after) = (0.0, 0.0)
            let roundsDeadline = ContinuousClock.now + .seconds(30)
            repeat {
                before = Self.sample(try await client.call(.get, "/metrics").text, hitName)
                for _ in 0..<5 {
                    let hit = try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(subA)", token: resolve)
                    #expect(hit.status == 200 && hit.json["user_id"] as? String == id)
                }
                let batch = try await client.call(
                    .post, "/v1/resolve", token: resolve,
                    json: #"{"items":[{"pool":"eu-west-1_New","sub":"\#(subB)"},{"pool":"us-east-1_Old","sub":"\#(testSub("nobody"))"}]}"#)
                #expect((batch.json["results"] as? [Any])?.count == 2 && ((batch.json["results"] as? [Any])?[1] is NSNull))
                after = Self.sample(try await client.call(.get, "/metrics").text, hitName)
            } while after < before + 6 && ContinuousClock.now < roundsDeadline
            #expect(after >= before + 6, "five single lookups and one batch item were hits (\(before) → \(after))")
            // An unknown sub is a miss (and asks PostgreSQL): counted as such, answered 404.
            let missName = #"stableid_lookup_cache_lookups_total{result="miss"}"#
            let missesBefore = Self.sample(try await client.call(.get, "/metrics").text, missName)
            #expect(try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("nobody-2"))", token: resolve).status == 404)
            #expect(Self.sample(try await client.call(.get, "/metrics").text, missName) >= missesBefore + 1)

            // Unlinked through this server: the next lookup already says 404 (read-your-writes).
            #expect(try await client.call(.delete, "/v1/users/\(id)/identities/us-east-1_Old/\(subA)", token: write).status == 200)
            #expect(try await client.call(.get, "/v1/resolve?pool=us-east-1_Old&sub=\(subA)", token: resolve).status == 404)

            // Unlinked elsewhere (another replica, the CLI): strong sees it at once; the cache within its bound.
            _ = try await IdentityMapStore(database: f.db.database).unlink(
                pool: PoolID("eu-west-1_New")!, sub: subB, from: UUID(uuidString: id)!, attribution: .init(actor: .system)
            ).run(on: f.db.database)
            let strong = try await client.call(.get, "/v1/resolve?pool=eu-west-1_New&sub=\(subB)&consistency=strong", token: resolve)
            #expect(strong.status == 404)
            let viaHeader = try await client.call(
                .get, "/v1/resolve?pool=eu-west-1_New&sub=\(subB)", token: resolve,
                headers: [HTTPField.Name("StableID-Consistency")!: "strong"])
            #expect(viaHeader.status == 404)
            let visibleBy = ContinuousClock.now + .seconds(2)
            var status = 200
            while status == 200, ContinuousClock.now < visibleBy {
                status = try await client.call(.get, "/v1/resolve?pool=eu-west-1_New&sub=\(subB)", token: resolve).status
                if status == 200 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(status == 404, "the unlink reached the cache within the staleness bound")
            let bad = try await client.call(.get, "/v1/resolve?pool=eu-west-1_New&sub=\(subB)&consistency=sometimes", token: resolve)
            #expect(bad.status == 400 && bad.code == "invalid_request")
        }
    }

    @Test("a large batch answered from memory (two halves written in place) is byte for byte the answer PostgreSQL gives")
    func largeBatchFromMemory() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!
        let hitName = #"stableid_lookup_cache_lookups_total{result="hit"}"#
        try await f.test { client in
            // Enough items for the two-halves path; emails with characters JSON escapes, one without.
            var items: [String] = []
            for index in 0..<300 {
                let sub = testSub("big-\(index)")
                let email = index == 7 ? "" : #","email":"big\"\#(index)\\x@example.com""#
                let created = try await client.call(
                    .post, "/v1/users", token: write,
                    json: #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(sub)","username":"Big \#(index)"\#(email)}]}"#)
                #expect(created.status == 201, "\(created.text)")
                items.append(#"{"pool":"us-east-1_Old","sub":"\#(sub)"}"#)
            }
            let body = #"{"items":["# + items.joined(separator: ",") + "]}"
            // Wait until the follower has the users: then the whole batch is hits.
            let deadline = ContinuousClock.now + .seconds(10)
            var served = false
            var answer = ""
            while !served, ContinuousClock.now < deadline {
                let before = Self.sample(try await client.call(.get, "/metrics").text, hitName)
                let batch = try await client.call(.post, "/v1/resolve", token: resolve, json: body)
                answer = batch.text
                served = Self.sample(try await client.call(.get, "/metrics").text, hitName) >= before + 300
                if !served { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(served, "the whole batch was answered from memory")
            let strong = try await client.call(.post, "/v1/resolve?consistency=strong", token: resolve, json: body)
            #expect(strong.status == 200 && answer.contains("big"))
            #expect(answer == strong.text, "memory and PostgreSQL answer the same bytes")
        }
    }

    @Test("after an erasure, lookups answered from memory carry neither the email nor the username")
    func erasureThroughTheReadModel() async throws {
        let f = try await APIFixture.make()
        let write = f.tokens[.write]!, resolve = f.tokens[.resolve]!
        let sub = testSub("erased")
        let lookup = "/v1/resolve?pool=us-east-1_Old&sub=\(sub)"
        let hitName = #"stableid_lookup_cache_lookups_total{result="hit"}"#
        try await f.test { client in
            let created = try await client.call(
                .post, "/v1/users", token: write,
                json:
                    #"{"identities":[{"pool":"us-east-1_Old","sub":"\#(sub)","username":"Erin Example","email":"erin@example.com","email_verified":true}]}"#
            )
            let id = try #require(created.json["user_id"] as? String, "\(created)")
            /// One lookup, and whether memory answered it (the hit counter moved meanwhile).
            func lookUp() async throws -> (Reply, Bool) {
                let before = Self.sample(try await client.call(.get, "/metrics").text, hitName)
                let reply = try await client.call(.get, lookup, token: resolve)
                return (reply, Self.sample(try await client.call(.get, "/metrics").text, hitName) > before)
            }
            // Memory holds the person's data before the erasure.
            var answer: Reply?
            let held = try await waitUntil(within: .seconds(30)) {
                let (reply, hit) = try await lookUp()
                answer = reply
                return hit
            }
            #expect(held && answer?.text.contains("erin@example.com") == true, "\(answer?.text ?? "no answer")")
            let erased = try await client.call(.delete, "/v1/users/\(id)/personal-data", token: f.tokens[.admin]!)
            #expect(erased.status == 200, "\(erased)")
            // This server's own write is answered by PostgreSQL until the follower has read past
            // it; then memory answers again, and must answer the erased identity.
            let served = try await waitUntil(within: .seconds(30)) {
                let (reply, hit) = try await lookUp()
                answer = reply
                return hit
            }
            #expect(served, "no lookup was answered from memory after the erasure")
            let text = answer?.text ?? ""
            #expect(answer?.status == 200 && answer?.json["user_id"] as? String == id, "\(text)")
            #expect(!text.contains("erin@example.com") && !text.contains("Erin Example"), "memory still answers erased data: \(text)")
            // A batch (from memory too) and PostgreSQL itself say the same.
            let batch = try await client.call(
                .post, "/v1/resolve", token: resolve, json: #"{"items":[{"pool":"us-east-1_Old","sub":"\#(sub)"}]}"#)
            #expect(batch.status == 200 && !batch.text.contains("erin@example.com") && !batch.text.contains("Erin Example"), "\(batch)")
            let strong = try await client.call(.get, lookup + "&consistency=strong", token: resolve)
            #expect(strong.status == 200 && !strong.text.contains("erin@example.com") && !strong.text.contains("Erin Example"))
        }
    }
}
