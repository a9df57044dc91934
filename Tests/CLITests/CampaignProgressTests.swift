import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("stableid campaign progress", .timeLimit(.minutes(5)))
struct CampaignProgressTests {
    @Test("campaign progress: csv is a header and a row per day; json parses as the HTTP body; table sums up; bad arguments exit 2")
    func progress() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in ["us-east-1_Src", "eu-west-1_Dst"] {
            #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)
        }
        let created = try CLI.run(
            ["campaign", "create", "--source", "us-east-1_Src", "--target", "eu-west-1_Dst", "--name", "spring"], environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        let campaign = try #require(UUID(uuidString: created.lastLine))
        // Three source people; one moves lazily today, one by a social sign-in yesterday.
        let map = IdentityMapStore(database: db.database)
        let by = Attribution(actor: .system)
        let (source, target) = (PoolID("us-east-1_Src")!, PoolID("eu-west-1_Dst")!)
        var people: [UUID] = []
        for index in 0..<3 {
            let identity = try NewIdentity(pool: source, sub: testSub("cli-src-\(index)"), username: "cli-src-\(index)")
            people.append(try await map.createUser(identities: [identity], attribution: by).run(on: db.database).id)
        }
        for (index, via) in [LinkPath.lazy, .social].enumerated() {
            let identity = try NewIdentity(
                pool: target, sub: testSub("cli-dst-\(index)"), username: "cli-dst-\(index)", via: via, campaignID: campaign)
            _ = try await map.linkIdentity(identity, to: people[index], attribution: by).run(on: db.database)
        }
        try db.connect().execute("UPDATE identities SET linked_at = linked_at - interval '1 day' WHERE sub = \(testSub("cli-dst-1"))")

        let csv = try CLI.run(["campaign", "progress", "spring", "--format", "csv"], environment: env)
        #expect(csv.status == 0, "\(csv.stderr)")
        let lines = csv.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "day,import,lazy,forgot-password,post-confirmation,social,invite,manual,passwordless,total,cumulative")
        #expect(lines.count == 3, "yesterday (the first link) and today: \(lines)")
        #expect(lines.dropFirst().allSatisfy { $0.split(separator: ",").first?.count == 10 }, "days as YYYY-MM-DD")
        #expect(lines.count == 3 && lines[1].hasSuffix(",0,0,0,0,1,0,0,0,1,1") && lines[2].hasSuffix(",0,1,0,0,0,0,0,0,1,2"))

        let json = try CLI.run(
            ["campaign", "progress", campaign.uuidString.lowercased(), "--format", "json", "--level", "0.05", "--window-weeks", "2"],
            environment: env)
        #expect(json.status == 0, "\(json.stderr)")
        let body = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(body["migrated"] as? Int == 2 && body["remaining"] as? Int == 1 && body["remaining_source"] as? String == "map")
        #expect((body["days"] as? [Any])?.count == 2)
        let projection = try #require(body["projection"] as? [String: Any])
        #expect(projection["level"] as? Double == 0.05 && projection["window_days"] as? Int == 14)
        #expect((body["totals"] as? [String: Int])?["social"] == 1)

        let table = try CLI.run(["campaign", "progress", "spring"], environment: env)
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("migrated    2 ") && table.stdout.contains("remaining   1 (33.3 % of 3)"), "\(table.stdout)")
        #expect(table.stdout.contains("DAY") && table.stdout.contains("too few days"), "\(table.stdout)")

        let unknown = try CLI.run(["campaign", "progress", "nope"], environment: env)
        #expect(unknown.status == 2 && unknown.stderr.contains("no campaign"))
        for bad in [["--level", "1"], ["--level", "0"], ["--window-weeks", "0"], ["--window-weeks", "53"], ["--format", "ndjson"]] {
            let refused = try CLI.run(["campaign", "progress", "spring"] + bad, environment: env)
            #expect(refused.status == 2, "\(bad): \(refused.stderr)")
        }
    }
}
