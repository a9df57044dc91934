import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// The report page as people use it (issue #20): a real headless Chromium (Debian's `chromium`)
/// signs in with a token through the form, reads the chart, looks a person up, and has a form
/// without its CSRF field refused — against the real `stableid serve`. Driven over the DevTools
/// protocol by scripts/lib/report_browser.py. With `STABLEID_REPORT_SCREENSHOT=path` set the page
/// is also saved as a PNG (`scripts/screenshot-report` makes docs/report.png that way).
@Suite("Campaign report in a headless browser", .timeLimit(.minutes(3)))
struct ReportBrowserTests {
    static let source = PoolID("us-east-1_Legacy")!
    static let target = PoolID("eu-west-1_Main")!
    static let ageDays = 45

    /// A campaign 45 days old whose users moved as lazy migrations do (a share of those left each
    /// day), by several paths; a few left over. Returns the campaign id and one migrated person.
    static func seed(_ db: TestDatabase) async throws -> (campaign: UUID, person: UUID, sub: String) {
        let env = ["DATABASE_URL": db.url]
        for pool in [source, target] {
            #expect(try CLI.run(["pool", "add", "--id", pool.rawValue], environment: env).status == 0)
        }
        let created = try CLI.run(
            [
                "campaign", "create", "--name", "move-eu", "--source", source.rawValue, "--target", target.rawValue,
                "--stable-id-attribute", "custom:stable_id",
            ], environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        let owner = try db.connect()
        let campaign: UUID = try owner.query("SELECT id FROM campaigns WHERE name = 'move-eu'").first!.decode("id")
        try owner.execute("UPDATE campaigns SET created_at = now() - make_interval(days => \(ageDays))")
        let map = IdentityMapStore(database: db.database)
        let by = Attribution(actor: .system)
        let paths: [LinkPath] = [.lazy, .lazy, .lazy, .forgotPassword, .postConfirmation, .social, .lazy, .import]
        var remaining = 240
        var first: (UUID, String)?
        var index = 0
        for day in 0..<ageDays {
            let moving = day == ageDays - 1 ? 0 : Int((Double(remaining) * 0.07).rounded(.up))
            for _ in 0..<moving {
                index += 1
                let name = "u\(index)"
                let user = try await map.createUser(
                    identities: [try NewIdentity(pool: source, sub: testSub(name), username: name, email: "\(name)@example.com")],
                    attribution: by
                ).run(on: db.database)
                let sub = testSub("t-\(name)")
                _ = try await map.link(
                    try NewIdentity(
                        pool: target, sub: sub, username: name, email: "\(name)@example.com", emailVerified: true,
                        via: paths[index % paths.count], campaignID: campaign),
                    to: user.id, attribution: by
                ).run(on: db.database)
                let linkedAt = "\(ageDays - day) days"
                try owner.execute(
                    "UPDATE identities SET linked_at = now() - \(linkedAt)::interval WHERE pool_id = \(target.rawValue) AND sub = \(sub)")
                if first == nil { first = (user.id, sub) }
            }
            remaining -= moving
        }
        for left in 0..<remaining {
            _ = try await map.createUser(
                identities: [try NewIdentity(pool: source, sub: testSub("left\(left)"), username: "left\(left)")], attribution: by
            ).run(on: db.database)
        }
        return (campaign, first!.0, first!.1)
    }

    @Test("sign in through the form, the chart has one point per day, a lookup finds the person, a form without CSRF is refused")
    func browse() async throws {
        let db = try await TestDatabase.make()
        let seeded = try await Self.seed(db)
        let env = ["DATABASE_URL": db.url]
        let token = try CLI.run(["token", "create", "--name", "auditor", "--scope", "audit"], environment: env).lastLine
        let campaign = try #require(try await CampaignStore(database: db.database).campaign("move-eu"))
        let progress = try await CampaignProgressStore(database: db.database).progress(of: campaign)
        #expect(progress.days.count == Self.ageDays + 1, "every day from the campaign's first to today")
        try await withTemporaryDirectory("report-browser") { directory in
            let serve = try ServeProcess(db: db, logDirectory: directory)
            #expect(try await serve.ready(), "\(serve.output)")
            let screenshot = ProcessInfo.processInfo.environment["STABLEID_REPORT_SCREENSHOT"]
            let run = try CLI.runProcess(
                "/usr/bin/env",
                [
                    "python3", "\(CLI.repositoryRoot)/scripts/lib/report_browser.py", "--base", serve.base, "--token", token,
                    "--campaign", seeded.campaign.uuidString.lowercased(), "--lookup", seeded.sub,
                ] + (screenshot.map { ["--screenshot", $0] } ?? []))
            #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
            let seen = try #require(
                try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any], "\(run.stdout) \(run.stderr)")
            #expect(seen["login_status"] as? Int == 200)
            #expect(seen["login_has_csrf_field"] as? Bool == true)
            #expect((seen["signed_in_url"] as? String)?.hasSuffix("/report/campaigns") == true, "\(seen)")
            #expect(seen["signed_in_status"] as? Int == 200)
            #expect(seen["script_visible_cookies"] as? String == "", "HttpOnly cookies are invisible to scripts")
            #expect(seen["page_status"] as? Int == 200)
            #expect(seen["chart_points"] as? Int == progress.days.count, "\(seen)")
            #expect(seen["chart_data_points"] as? String == "\(progress.days.count)")
            let days = try #require(seen["chart_days"] as? [String])
            #expect(days.first == Self.utcDay(progress.days.first!.day) && days.last == Self.utcDay(progress.days.last!.day))
            #expect((seen["chart_rendered_width"] as? Int ?? 0) > 300, "the SVG is laid out, not collapsed")
            #expect(seen["lookup_status"] as? Int == 200)
            #expect(seen["lookup_people"] as? [String] == [seeded.person.uuidString.lowercased()], "\(seen)")
            #expect((seen["lookup_events"] as? Int ?? 0) >= 2, "created, then linked in the target")
            #expect(seen["no_csrf_status"] as? Int == 403, "\(seen)")
            #expect((seen["signed_out_url"] as? String)?.contains("/report/login") == true, "\(seen)")
            #expect((seen["after_sign_out_url"] as? String)?.contains("/report/login") == true, "the old session is gone")
            #expect(!serve.output.contains(token))
        }
    }

    static func utcDay(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }
}
