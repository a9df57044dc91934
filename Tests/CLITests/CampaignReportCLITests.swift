import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("campaign report --html", .timeLimit(.minutes(5)))
struct CampaignReportCLITests {
    @Test("writes the report page as one file, mode 0640, atomically, without the lookup form; refuses a bad campaign or level")
    func writesFile() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in ["us-east-1_RSrc", "eu-west-1_RDst"] {
            #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)
        }
        let created = try CLI.run(
            ["campaign", "create", "--source", "us-east-1_RSrc", "--target", "eu-west-1_RDst", "--name", "report-cli"], environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        // One person moved today: the chart has one day, one point.
        let campaign: UUID = try db.connect().query("SELECT id FROM campaigns WHERE name = 'report-cli'").first!.decode("id")
        let map = IdentityMapStore(database: db.database)
        let by = Attribution(actor: .system)
        let user = try await map.createUser(
            identities: [try NewIdentity(pool: PoolID("us-east-1_RSrc")!, sub: testSub("r1"), username: "r1")], attribution: by
        ).run(on: db.database)
        _ = try await map.link(
            try NewIdentity(pool: PoolID("eu-west-1_RDst")!, sub: testSub("r1-new"), username: "r1", via: .lazy, campaignID: campaign),
            to: user.id, attribution: by
        ).run(on: db.database)
        try withTemporaryDirectory("report") { dir in
            let file = dir.appendingPathComponent("report.html").path
            let run = try CLI.run(
                ["campaign", "report", "report-cli", "--html", file, "--level", "0.02", "--window-weeks", "2"], environment: env)
            #expect(run.status == 0, "\(run.stderr)")
            let html = try String(contentsOfFile: file, encoding: .utf8)
            #expect(html.hasPrefix("<!DOCTYPE html>") && html.contains("report-cli"))
            #expect(html.contains(#"<svg id="progress-chart""#) && html.contains(#"data-points="1""#), "one day, one point")
            #expect(html.components(separatedBy: #"class="point""#).count - 1 == 1)
            #expect(html.contains("lookup-unavailable") && !html.contains("<form"))
            #expect(!html.lowercased().contains("<script"))
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o640, "\(String(mode ?? 0, radix: 8))")
            #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["report.html"], "no temporary file is left")
            #expect(try CLI.run(["campaign", "report", "nope", "--html", file], environment: env).status == 2)
            #expect(try CLI.run(["campaign", "report", "report-cli", "--html", file, "--level", "2"], environment: env).status == 2)
        }
    }
}
