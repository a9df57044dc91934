import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// A campaign whose curve has several days, a person it linked, and a signed-in browser.
struct ReportFixture {
    let api: APIFixture
    let campaign: Campaign
    let person: User

    static func make() async throws -> ReportFixture {
        let api = try await APIFixture.make()
        let db = api.db.database
        let by = Attribution(actor: .system)
        let old = PoolID(api.old)!, new = PoolID(api.new)!
        let spec = NewCampaign(name: "report test", target: new, sources: [old])
        let created = try await CampaignStore(database: db).create(spec, attribution: by).run(on: db)
        let person = try await IdentityMapStore(database: db).createUser(
            identities: [
                try NewIdentity(
                    pool: old, sub: testSub("ann-old"), username: "ann", email: "ann@example.com", emailVerified: true, via: .import),
                try NewIdentity(
                    pool: new, sub: testSub("ann-new"), username: "ann", email: "ann@example.com", emailVerified: true, via: .lazy,
                    campaignID: created.id),
            ],
            attribution: by
        ).run(on: db)
        // Three days of campaign and a link two days ago: a curve of several points.
        let connection = try api.db.connect()
        _ = try connection.execute(
            """
            UPDATE campaigns SET created_at = created_at - interval '3 days', phase_changed_at = phase_changed_at - interval '3 days'
            WHERE id = \(created.id)
            """
        )
        _ = try connection.execute("UPDATE identities SET linked_at = linked_at - interval '2 days' WHERE campaign_id = \(created.id)")
        let campaign = try #require(try await CampaignStore(database: db).campaign(created.id.uuidString.lowercased()))
        return ReportFixture(api: api, campaign: campaign, person: person)
    }

    var path: String { "/report/campaigns/" + campaign.id.uuidString.lowercased() }
}

@Suite("Report pages", .timeLimit(.minutes(3)))
struct ReportPageRoutesTests {
    static func occurrences(of needle: String, in text: String) -> Int {
        text.components(separatedBy: needle).count - 1
    }

    @Test("the page: HTML with the chart's points — one per day of the campaign's progress — numbers and findings")
    func page() async throws {
        let f = try await ReportFixture.make()
        try await f.api.test { client in
            let session = try #require(try await client.signIn(token: f.api.tokens[.audit]!).session)
            let page = try await client.report(.get, f.path, cookies: [ReportCookie.session: session])
            #expect(page.status == 200, "\(page.status)")
            #expect(page.headers[.contentType] == "text/html; charset=utf-8")
            #expect(page.reportHeaderProblems == [])
            let progress = try await CampaignProgressStore(database: f.api.db.database).progress(of: f.campaign)
            let days = progress.days.count
            #expect(days > 1, "the fixture's campaign is three days old")
            #expect(page.text.contains(#"<svg id="progress-chart" class="chart" data-points="\#(days)""#))
            #expect(Self.occurrences(of: #"<circle class="point""#, in: page.text) == days)
            #expect(page.text.contains("report test"))
            #expect(page.text.contains(#"<details id="findings-unmigrated""#))
            #expect(!page.text.lowercased().contains("<script"))
            #expect(!page.text.contains("ann@example.com"))
            // An unknown campaign is a 404 page.
            let missing = try await client.report(.get, "/report/campaigns/nope", cookies: [ReportCookie.session: session])
            #expect(missing.status == 404 && missing.reportHeaderProblems == [], "\(missing.status)")
            // The list links to the page.
            let list = try await client.report(.get, "/report/campaigns", cookies: [ReportCookie.session: session])
            #expect(list.text.contains(#"href="\#(f.path)""#))
        }
    }

    @Test("the person lookup: refused without the CSRF token (403); with it, the person's history by stable ID, sub or email")
    func lookup() async throws {
        let f = try await ReportFixture.make()
        try await f.api.test { client in
            let session = try #require(try await client.signIn(token: f.api.tokens[.audit]!).session)
            let cookies = [ReportCookie.session: session]
            let page = try await client.report(.get, f.path, cookies: cookies)
            let csrf = try #require(page.csrf(after: #"<form class="lookup""#))
            let lookup = f.path + "/lookup"
            for form in [["query": "ann@example.com"], ["query": "ann@example.com", "csrf": "wrong"]] {
                let refused = try await client.report(.post, lookup, cookies: cookies, form: form)
                #expect(refused.status == 403, "\(form.keys.sorted())")
                #expect(refused.text.contains("The form was refused") && !refused.text.contains(f.person.id.uuidString.lowercased()))
                #expect(refused.reportHeaderProblems == [])
            }
            // The sign-out form's token is not the lookup's.
            let signOutToken = try #require(page.csrf(after: #"action="/report/logout""#))
            #expect(try await client.report(.post, lookup, cookies: cookies, form: ["query": "x", "csrf": signOutToken]).status == 403)
            let id = f.person.id.uuidString.lowercased()
            for query in [id, testSub("ann-new"), "ann@example.com", " ANN@example.com "] {
                let found = try await client.report(.post, lookup, cookies: cookies, form: ["query": query, "csrf": csrf])
                #expect(found.status == 200, "\(query): \(found.status)")
                #expect(found.text.contains(#"<article class="person" data-user="\#(id)">"#), "\(query)")
                #expect(found.text.contains("identity_linked") && found.text.contains(testSub("ann-old")), "\(query)")
                #expect(!found.text.contains("ann@example.com"), "the page never shows the email")
            }
            let nobody = try await client.report(.post, lookup, cookies: cookies, form: ["query": testSub("nobody"), "csrf": csrf])
            #expect(nobody.status == 200 && nobody.text.contains("No person has that stable ID"))
            let nonsense = try await client.report(.post, lookup, cookies: cookies, form: ["query": "ann", "csrf": csrf])
            #expect(nonsense.status == 200 && nonsense.text.contains("Give a stable ID or a sub"))
            // Without a session, the lookup goes nowhere.
            let anonymous = try await client.report(.post, lookup, form: ["query": id, "csrf": csrf])
            #expect(anonymous.status == 303 && anonymous.location == "/report/login")
        }
    }

    @Test("sign-out needs its CSRF token, ends the session, and the cookie no longer works")
    func signOut() async throws {
        let f = try await ReportFixture.make()
        try await f.api.test { client in
            let session = try #require(try await client.signIn(token: f.api.tokens[.audit]!).session)
            let cookies = [ReportCookie.session: session]
            let page = try await client.report(.get, "/report/campaigns", cookies: cookies)
            let csrf = try #require(page.csrf(after: #"action="/report/logout""#))
            #expect(try await client.report(.post, "/report/logout", cookies: cookies, form: [:]).status == 403)
            #expect(try await client.report(.get, "/report/campaigns", cookies: cookies).status == 200, "a refused sign-out ends nothing")
            let out = try await client.report(.post, "/report/logout", cookies: cookies, form: ["csrf": csrf])
            #expect(out.status == 303 && out.location == "/report/login")
            #expect(out.cookie(ReportCookie.session) == "")
            let after = try await client.report(.get, "/report/campaigns", cookies: cookies)
            #expect(after.status == 303 && after.location?.hasPrefix("/report/login") == true, "\(after.status)")
        }
        #expect(try f.api.db.count("report_sessions", where: "signed_out_at IS NOT NULL") == 1)
        let removed = try await Housekeeping(database: f.api.db.database).run()
        #expect(removed.reportSessions == 1)
        #expect(try f.api.db.count("report_sessions") == 0)
    }

    @Test("a session past its lifetime or idle too long, or of a revoked token, sends the browser to sign in")
    func sessionEnds() async throws {
        let f = try await ReportFixture.make()
        let tokens = TokenStore(database: f.api.db.database)
        let (_, secret) = try await tokens.create(name: "auditor", scopes: [.audit], attribution: .init(actor: .system)).run(
            on: f.api.db.database)
        try await f.api.test { client in
            for (label, update) in [
                ("expired", "UPDATE report_sessions SET expires_at = now() - interval '1 second'"),
                ("idle", "UPDATE report_sessions SET last_seen_at = now() - interval '31 minutes'"),
            ] {
                let session = try #require(try await client.signIn(token: f.api.tokens[.audit]!).session)
                #expect(try await client.report(.get, f.path, cookies: [ReportCookie.session: session]).status == 200, "\(label)")
                _ = try f.api.db.connect().execute(PostgresQuery(unsafeSQL: update))
                let reply = try await client.report(.get, f.path, cookies: [ReportCookie.session: session])
                #expect(reply.status == 303 && reply.location?.hasPrefix("/report/login") == true, "\(label): \(reply.status)")
            }
            let session = try #require(try await client.signIn(token: secret.value).session)
            #expect(try await client.report(.get, f.path, cookies: [ReportCookie.session: session]).status == 200)
            _ = try await tokens.revoke(nameOrID: "auditor", attribution: .init(actor: .system)).run(on: f.api.db.database)
            let revoked = try await client.report(.get, f.path, cookies: [ReportCookie.session: session])
            #expect(revoked.status == 303 && revoked.location?.hasPrefix("/report/login") == true, "\(revoked.status)")
            // A made-up cookie is no session either.
            let madeUp = String(repeating: "A", count: 43)
            #expect(try await client.report(.get, f.path, cookies: [ReportCookie.session: madeUp]).status == 303)
        }
        // Expired, idle and revoked: housekeeping removes all three.
        #expect(try await Housekeeping(database: f.api.db.database).run().reportSessions == 3)
    }
}
