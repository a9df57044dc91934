import Cognito
import Foundation
import IdentityMap
import Logging
import Postgres
import Reconciliation
import TestSupport
import Testing

/// `stableid reconcile` and `stableid findings` end to end: a campaign planted in moto with one
/// user of every finding kind and the edge cases, read live and from files.
@Suite("stableid reconcile", .timeLimit(.minutes(5)))
struct ReconcileTests {
    /// The planted campaign: what is where, and the ids the assertions need.
    struct Scenario {
        let db: TestDatabase
        let env: [String: String]
        let client: CognitoClient
        let source: String
        let target: String
        let campaign: String
        var subs: [String: String] = [:]
        var people: [String: UUID] = [:]

        func sub(_ name: String) -> String { subs[name]! }

        /// The open findings as `kind subject`, sorted.
        func openFindings() throws -> [String] {
            try db.rows("SELECT kind || ' ' || subject AS f FROM findings WHERE state = 'open' ORDER BY 1").map { try $0.decode("f") }
        }

        func reconcile(_ extra: [String] = []) throws -> (CLI.Output, [String: Any]) {
            let run = try CLI.run(["reconcile", "--campaign", campaign, "--format", "json"] + extra, environment: env)
            let json = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]) ?? [:]
            return (run, json)
        }

        /// What `aws cognito-idp list-users` prints for a pool, one document per page, as a file in `dir`.
        func dump(_ pool: String, into dir: URL) async throws -> String {
            let file = dir.appendingPathComponent("\(pool).json")
            var text = ""
            for try await page in client.listUsers(poolID: pool) {
                text += String(decoding: try JSONEncoder().encode(["Users": page.Users]), as: UTF8.self) + "\n"
            }
            try text.write(to: file, atomically: true, encoding: .utf8)
            return file.path
        }
    }

    static func plant() async throws -> Scenario {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let source = try await client.createUserPool(name: "rec-old-\(suffix)")
        let target = try await client.createUserPool(name: "rec-new-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")])
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in [source, target] { #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0) }
        let created = try CLI.run(
            [
                "campaign", "create", "--source", source, "--target", target, "--name", "rec-\(suffix)", "--stable-id-attribute",
                "custom:stable_id",
            ],
            environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        var scenario = Scenario(db: db, env: env, client: client, source: source, target: target, campaign: "rec-\(suffix)")

        // 70 migrated-by-import users (more than one ListUsers page of 60), all of them clean.
        func create(
            _ pool: String, _ username: String, email: String?, verified: Bool = true, attributes: [AttributeType] = []
        )
            async throws -> String
        {
            var all = attributes
            if let email { all += [AttributeType("email", email), AttributeType("email_verified", verified ? "true" : "false")] }
            let user = try await client.createTestUser(poolID: pool, username: username, attributes: all)
            return try #require(user.attribute("sub"))
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<70 {
                if i >= 8 { try await group.next() }
                group.addTask { _ = try await create(source, "bulk\(i)", email: "bulk\(i)@example.com") }
            }
            try await group.waitForAll()
        }
        for name in ["alice", "bob", "carol", "erin", "frank", "henry"] {
            scenario.subs[name] = try await create(source, name, email: name == "bob" ? "Bob@Example.COM" : "\(name)@example.com")
        }
        try await client.adminDisableUser(poolID: source, username: "carol")
        #expect(try CLI.run(["import", "--pool", source], environment: env).status == 0)
        func person(_ name: String) throws -> UUID {
            try db.rows("SELECT user_id FROM identities WHERE sub = \(scenario.sub(name))")[0].decode("user_id")
        }
        for name in ["alice", "bob", "carol", "erin", "frank", "henry"] { scenario.people[name] = try person(name) }
        let store = IdentityMapStore(database: db.database)
        let by = Attribution(actor: .system)

        // alice migrated: her target identity is linked to her person, and her attribute says so.
        scenario.subs["alice-new"] = try await create(
            target, "alice", email: "alice@example.com",
            attributes: [AttributeType("custom:stable_id", scenario.people["alice"]!.uuidString.lowercased())])
        _ = try await store.link(
            try NewIdentity(
                pool: PoolID(target)!, sub: scenario.sub("alice-new"), username: "alice", email: "alice@example.com", emailVerified: true),
            to: scenario.people["alice"]!, attribution: by
        ).run(on: db.database)
        // bob signed up afresh in the target (a second person with his verified email, other case): duplicate.
        scenario.subs["bob-new"] = try await create(target, "bob-again", email: "bob@example.com")
        let bobAgain = try await store.createUser(
            identities: [
                try NewIdentity(
                    pool: PoolID(target)!, sub: scenario.sub("bob-new"), username: "bob-again", email: "bob@example.com",
                    emailVerified: true)
            ],
            attribution: by
        ).run(on: db.database)
        scenario.people["bob-new"] = bobAgain.id
        // gina in the target is mapped to one person while her attribute names another: conflict.
        scenario.subs["gina"] = try await create(
            target, "gina", email: "gina@example.com",
            attributes: [AttributeType("custom:stable_id", scenario.people["frank"]!.uuidString.lowercased())])
        let gina = try await store.createUser(
            identities: [
                try NewIdentity(
                    pool: PoolID(target)!, sub: scenario.sub("gina"), username: "gina", email: "gina@example.com", emailVerified: true)
            ],
            attribution: by
        ).run(on: db.database)
        scenario.people["gina"] = gina.id
        // ivan exists in the target, unknown to the map, his attribute naming carol's person (a safe link).
        scenario.subs["ivan"] = try await create(
            target, "carol", email: "carol@example.com",
            attributes: [AttributeType("custom:stable_id", scenario.people["carol"]!.uuidString.lowercased())])
        // dave: in the source pool, never imported: unmapped.
        scenario.subs["dave"] = try await create(source, "dave", email: "dave@example.com")
        // erin was deleted from Cognito: her identity is orphaned.
        try await client.adminDeleteUser(poolID: source, username: "erin")
        // frank changed his email in Cognito: stale.
        try await client.adminUpdateUserAttributes(
            poolID: source, username: "frank", attributes: [AttributeType("email", "frank.new@example.com")])
        // henry was deleted and created again with his username: a new sub (unmapped), the old identity orphaned.
        try await client.adminDeleteUser(poolID: source, username: "henry")
        scenario.subs["henry-again"] = try await create(source, "henry", email: "henry@example.com")
        return scenario
    }

    @Test(
        "a planted campaign yields every kind; files give the same findings as live; a rerun opens nothing; fixes resolve exactly what they fixed"
    )
    func plantedCampaign() async throws {
        let s = try await Self.plant()
        try await withTemporaryDirectory("reconcile") { dir in
            let metricsPath = dir.appendingPathComponent("reconcile.prom").path
            let (first, report) = try s.reconcile(["--fail-on", "unmigrated", "--metrics-file", metricsPath])
            #expect(first.status == 1, "unmigrated users are open: \(first.stdout) \(first.stderr)")
            let counts = try #require(report["counts"] as? [String: Int], "\(first.stdout) \(first.stderr)")
            let open = try s.openFindings()
            func has(_ kind: String, _ subject: String) -> Bool { open.contains("\(kind) \(subject)") }
            let (old, new) = (s.source, s.target)
            #expect(has("unmapped", "\(old)/\(s.sub("dave"))"), "\(open)")
            #expect(has("unmapped", "\(old)/\(s.sub("henry-again"))"))
            #expect(has("orphaned", "\(old)/\(s.sub("erin"))") && has("orphaned", "\(old)/\(s.sub("henry"))"))
            #expect(has("stale", "\(old)/\(s.sub("frank"))"))
            #expect(has("conflict", "\(new)/\(s.sub("gina"))"))
            // bob's two people share a verified email (other case); carol's source account and the unmapped
            // target account made with her verified email are the same address: both are duplicates.
            #expect(open.filter { $0.hasPrefix("duplicate email:") }.count == 2, "\(open)")
            // Every enabled source user without a target identity is unmigrated: the 70 bulk users, bob
            // and frank. carol is disabled; alice migrated; henry's new sub is unmapped, not unmigrated.
            #expect(has("unmigrated", "\(old)/\(s.sub("bob"))") && has("unmigrated", "\(old)/\(s.sub("frank"))"))
            #expect(!has("unmigrated", "\(old)/\(s.sub("carol"))") && !has("unmigrated", "\(old)/\(s.sub("henry-again"))"))
            #expect(open.filter { $0.hasPrefix("unmigrated ") }.count == 72)
            #expect(!open.contains { $0.contains(s.sub("alice")) || $0.contains(s.sub("alice-new")) })
            #expect(!open.contains { $0.hasPrefix("conflict") && !$0.contains(s.sub("gina")) }, "a recreated user is no conflict: \(open)")
            let planted = 2 + 72 + 1 + 2 + 1 + 3  // duplicate, unmigrated, stale, orphaned, conflict, unmapped
            #expect(open.count == planted)
            #expect(counts.keys.sorted() == ["conflict", "duplicate", "migrated_elsewhere", "orphaned", "stale", "unmapped", "unmigrated"])
            #expect(counts.values.reduce(0, +) == open.count)
            let run = try #require(report["run"] as? [String: Any])
            #expect((run["scanned"] as? [String: Int])?[old] == 70 + 6 - 1 + 1)  // bulk + six − erin + dave (henry once)
            let metrics = try String(contentsOfFile: metricsPath, encoding: .utf8)
            #expect(metrics.contains("stableid_reconcile_findings_open{kind=\"stale\",scope=\"campaign:") && metrics.contains("} 1\n"))

            // The same pools from files: the same findings, none new, none resolved.
            let files = ["--file", "\(old)=\(try await s.dump(old, into: dir))", "--file", "\(new)=\(try await s.dump(new, into: dir))"]
            let (fromFiles, fileReport) = try s.reconcile(files)
            #expect(fromFiles.status == 0, "\(fromFiles.stderr)")
            #expect((fileReport["new"] as? [String: Int])?.values.reduce(0, +) == 0, "\(fromFiles.stdout)")
            #expect((fileReport["resolved"] as? [String: Int])?.values.reduce(0, +) == 0)
            #expect(try s.openFindings() == open)
            #expect(try s.db.count("events", where: "kind = 'finding_opened'") == open.count)

            // A dry run of the fixes changes nothing.
            let events = try s.db.count("events")
            let (dry, dryReport) = try s.reconcile(["--fix", "stale", "orphaned", "unmapped", "--dry-run"])
            #expect(dry.status == 0, "\(dry.stderr)")
            #expect(((dryReport["fixes"] as? [String: Any])?["dry_run"] as? Bool) == true)
            #expect(try s.db.count("events") == events + 1, "only the run's own reconcile_completed event")
            #expect(
                try s.db.rows("SELECT email FROM identities WHERE sub = \(s.sub("frank"))")[0].decode("email", as: String.self)
                    == "frank@example.com")

            // Applied, then a rerun resolves exactly the fixed findings.
            let (applied, appliedReport) = try s.reconcile(["--fix", "stale", "orphaned", "unmapped", "--apply"])
            #expect(applied.status == 0, "\(applied.stderr)")
            let fixes = try #require(appliedReport["fixes"] as? [String: Any])
            let outcomes = try #require(fixes["outcomes"] as? [String: [String: Int]])
            #expect(outcomes["stale"]?["fixed"] == 1 && outcomes["orphaned"]?["fixed"] == 2, "\(fixes)")
            #expect(outcomes["unmapped"]?["fixed"] == 1, "only ivan, whose attribute names an existing person: \(fixes)")
            #expect(
                try s.db.rows("SELECT email FROM identities WHERE sub = \(s.sub("frank"))")[0].decode("email", as: String.self)
                    == "frank.new@example.com")
            #expect(
                try s.db.rows("SELECT status FROM identities WHERE sub = \(s.sub("erin"))")[0].decode("status", as: String.self)
                    == "deleted")
            // The fixed findings are resolved with their fixes, and a rerun does not open them again. It
            // does see what the fixes left for a person: erin and henry have no live identity now, and
            // carol's target account, linked to her, is no longer a duplicate of her.
            let appliedResolved = try #require(appliedReport["resolved"] as? [String: Int])
            #expect(
                appliedResolved["stale"] == 1 && appliedResolved["orphaned"] == 2 && appliedResolved["unmapped"] == 1, "\(applied.stdout)")
            let (rerun, rerunReport) = try s.reconcile()
            #expect(rerun.status == 0)
            let zero: [String: Int] = [
                "conflict": 0, "duplicate": 0, "migrated_elsewhere": 0, "orphaned": 0, "stale": 0, "unmapped": 0, "unmigrated": 0,
            ]
            var expectedNew = zero
            expectedNew["orphaned"] = 2
            var expectedResolved = zero
            expectedResolved["duplicate"] = 1
            #expect(rerunReport["new"] as? [String: Int] == expectedNew, "\(rerun.stdout)")
            #expect(rerunReport["resolved"] as? [String: Int] == expectedResolved)
            let after = try s.openFindings()
            let erin = "orphaned user:" + s.people["erin"]!.uuidString.lowercased()
            let henry = "orphaned user:" + s.people["henry"]!.uuidString.lowercased()
            #expect(after.contains(erin) && after.contains(henry), "\(after)")
            #expect(try s.db.count("findings", where: "kind = 'unmapped' AND state = 'open'") == 2, "dave and henry stay for a person")
            let quiet = try s.reconcile().1["new"] as? [String: Int]
            #expect(quiet == zero, "nothing changed, nothing new")

            // Acknowledging in bulk by filter; the acknowledged no longer count as open.
            let ack = try CLI.run(
                ["findings", "ack", "--kind", "unmigrated", "--campaign", s.campaign, "--reason", "churned users"], environment: s.env)
            #expect(ack.status == 0 && ack.stdout.contains("acknowledged 72"), "\(ack.stdout) \(ack.stderr)")
            #expect(try s.reconcile(["--fail-on", "unmigrated"]).0.status == 0)
            let listed = try CLI.run(["findings", "list", "--state", "acknowledged", "--format", "json"], environment: s.env)
            #expect((try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [Any])?.count == 72)
            #expect(try s.db.count("events", where: "kind = 'finding_acknowledged'") == 1)

            // Nothing personal in the immutable events: no email hash subject, no reason typed by an operator.
            #expect(
                try s.db.count(
                    "events", where: "kind LIKE 'finding_%' AND (details::text LIKE '%email:%' OR details::text LIKE '%churned%')")
                    == 0)
            // Erasing bob removes his findings, and his duplicate finding's subject from the events.
            let bobID = s.people["bob"]!.uuidString.lowercased()
            let duplicatesBefore = try s.db.count("findings", where: "kind = 'duplicate'")
            let subjectsBefore = try s.db.count("event_personal_data", where: "data ? 'subject' AND data->>'subject' LIKE 'email:%'")
            #expect(try CLI.run(["user", "forget", bobID], environment: s.env).status == 0)
            #expect(try s.db.count("findings", where: "user_id = '\(bobID)'::uuid OR sub = '\(s.sub("bob"))'") == 0)
            #expect(try s.db.count("findings", where: "kind = 'duplicate'") < duplicatesBefore)
            #expect(subjectsBefore > 0)
            #expect(try s.db.count("event_personal_data", where: "data ? 'subject' AND data->>'subject' LIKE 'email:%'") < subjectsBefore)
        }
    }

    @Test("one run per campaign at a time: a second exits 3 (or waits with --wait); usage errors exit 2; an empty pool reconciles")
    func exclusiveAndEdges() async throws {
        let client = try ImportTests.moto()
        let empty = try await client.createUserPool(name: "rec-empty-\(UUID().uuidString.prefix(6))")
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", empty], environment: env).status == 0)
        let clean = try CLI.run(["reconcile", "--pool", empty, "--format", "json"], environment: env)
        #expect(clean.status == 0 && clean.stdout.contains(#""counts":{"conflict":0,"duplicate":0"#), "\(clean.stdout) \(clean.stderr)")

        let scope = try ReconcileScope(pools: [PoolID(empty)!])
        let holder = try await ReconciliationRun.start(
            database: db.database, scope: scope, source: .live, attribution: .init(actor: .system), logger: Logger(label: "test"))
        let busy = try CLI.run(["reconcile", "--pool", empty], environment: env)
        #expect(busy.status == 3 && busy.stderr.contains("reconcil"), "\(busy.stderr)")
        await holder.abandon(reason: "test")
        #expect(try CLI.run(["reconcile", "--pool", empty], environment: env).status == 0)

        // A run that fails midway (the second pool's file is broken) commits no findings, is
        // recorded failed, and leaves no snapshot rows (they hold emails).
        let other = try await client.createUserPool(name: "rec-other-\(UUID().uuidString.prefix(6))")
        #expect(try CLI.run(["pool", "add", "--id", other], environment: env).status == 0)
        _ = try await client.createTestUser(
            poolID: empty, username: "someone", attributes: [AttributeType("email", "someone@example.com")])
        try await withTemporaryDirectory("reconcile-broken") { dir in
            let broken = dir.appendingPathComponent("broken.json")
            try #"{"Users": [{"Username": "x", "Attributes": [{"Name": "sub""#.write(to: broken, atomically: true, encoding: .utf8)
            let findingsBefore = try db.count("findings")
            let failed = try CLI.run(
                ["reconcile", "--pool", empty, "--pool", other, "--file", "\(other)=\(broken.path)"], environment: env)
            #expect(failed.status == 2 && failed.stderr.contains("line"), "\(failed.stderr)")
            #expect(try db.count("findings") == findingsBefore && db.count("reconcile_snapshot") == 0)
            #expect(try db.count("reconcile_runs", where: "status = 'failed'") == 2, "the abandoned holder and this run")

            for bad in [
                ["reconcile"], ["reconcile", "--pool", empty, "--campaign", "x"], ["reconcile", "--pool", "nope"],
                ["reconcile", "--pool", empty, "--fix", "stale"], ["reconcile", "--pool", empty, "--fix", "duplicate", "--apply"],
                ["reconcile", "--pool", empty, "--file", "us-east-1_Other=/tmp/x.json"], ["findings", "ack", "--reason", "x"],
            ] {
                #expect(try CLI.run(bad, environment: env).status == 2, "\(bad)")
            }
        }
    }
}
