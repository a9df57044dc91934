import Foundation
import HTTPTypes
import IdentityMap
import TestSupport
import Testing
import UserMigration

@Suite("Campaign progress route", .timeLimit(.minutes(3)))
struct CampaignProgressRouteTests {
    @Test(
        "GET /v1/campaigns/{id}/progress (scope audit): the numbers, by name or id; 403 without audit, 404 unknown, 400 bad level or window"
    )
    func route() async throws {
        let f = try await APIFixture.make()
        let by = Attribution(actor: .system)
        let (old, new) = (PoolID(f.old)!, PoolID(f.new)!)
        let campaign = try await CampaignStore(database: f.db.database).create(
            NewCampaign(name: "spring", target: new, sources: [old]), attribution: by
        ).run(on: f.db.database)
        let map = IdentityMapStore(database: f.db.database)
        var people: [UUID] = []
        for index in 0..<4 {
            let source = try NewIdentity(pool: old, sub: testSub("src-\(index)"), username: "src-\(index)")
            people.append(try await map.createUser(identities: [source], attribution: by).run(on: f.db.database).id)
        }
        for (index, via) in [LinkPath.lazy, .lazy, .forgotPassword].enumerated() {
            let target = try NewIdentity(
                pool: new, sub: testSub("dst-\(index)"), username: "dst-\(index)", via: via, campaignID: campaign.id)
            _ = try await map.linkIdentity(target, to: people[index], attribution: by).run(on: f.db.database)
        }
        let audit = f.tokens[.audit]!
        try await f.test { client in
            let reply = try await client.call(.get, "/v1/campaigns/spring/progress?level=0.05&window_weeks=2", token: audit)
            #expect(reply.status == 200 && reply.headers[.contentType] == "application/json", "\(reply)")
            let json = reply.json
            #expect(json["migrated"] as? Int == 3 && json["remaining"] as? Int == 1 && json["remaining_source"] as? String == "map")
            #expect(json["remaining_share"] as? Double == 0.25 && json["reconciliation_run"] is NSNull)
            #expect((json["campaign"] as? [String: Any])?["id"] as? String == campaign.id.uuidString.lowercased())
            var totals = Dictionary(uniqueKeysWithValues: LinkPath.allCases.map { ($0.rawValue, 0) })
            totals["lazy"] = 2
            totals["forgot-password"] = 1
            #expect(json["totals"] as? [String: Int] == totals)
            let days = try #require(json["days"] as? [[String: Any]])
            #expect(days.count == 1, "created today, linked today")
            #expect(days.first?["links"] as? [String: Int] == totals && days.first?["cumulative"] as? Int == 3)
            #expect((days.first?["day"] as? String)?.count == 10, "YYYY-MM-DD")
            let projection = try #require(json["projection"] as? [String: Any])
            #expect(projection["level"] as? Double == 0.05 && projection["window_days"] as? Int == 14)
            #expect(projection["unavailable"] as? String == "too_few_days" && projection["points_used"] as? Int == 1)
            #expect(projection["rate"] is NSNull && projection["reaches_level_on"] is NSNull)
            #expect(projection["model"] as? String == "exponential_decay")

            let byID = try await client.call(.get, "/v1/campaigns/\(campaign.id.uuidString.lowercased())/progress", token: audit)
            let defaults = byID.json["projection"] as? [String: Any]
            #expect(byID.status == 200 && defaults?["level"] as? Double == 0.01 && defaults?["window_days"] as? Int == 28)

            for scope in [Scope.admin, .resolve, .write] {
                let refused = try await client.call(.get, "/v1/campaigns/spring/progress", token: f.tokens[scope])
                #expect(refused.status == 403 && refused.code == "forbidden", "\(scope)")
            }
            let unknown = try await client.call(.get, "/v1/campaigns/nope/progress", token: audit)
            #expect(unknown.status == 404 && unknown.code == "not_found")
            for bad in [
                "level=1", "level=0", "level=-0.5", "level=abc", "level=nan", "window_weeks=0", "window_weeks=53", "window_weeks=x",
                "window_weeks=99999999999999999999",
            ] {
                let refused = try await client.call(.get, "/v1/campaigns/spring/progress?\(bad)", token: audit)
                #expect(refused.status == 400 && refused.code == "invalid_progress_query" && refused.isProblem, "\(bad): \(refused)")
            }
        }
    }
}
