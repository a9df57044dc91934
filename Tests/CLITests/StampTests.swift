import Cognito
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// `stableid stamp` end to end against moto: every mapped user gets its person's stable ID (a
/// merged user its survivor's), a second run changes nothing, unsafe pools are refused before
/// anything is written, a dry run writes nothing, an interrupted run resumes without redoing what
/// it saved, and throttling is absorbed.
@Suite("stableid stamp", .timeLimit(.minutes(5)))
struct StampTests {
    static let attribute = "custom:stable_id"
    /// The users the map holds, active and enabled: each is stamped.
    static let mapped = ["u0", "u1", "u2", "u3", "u4"]

    struct Scenario {
        let db: TestDatabase
        let env: [String: String]
        let client: CognitoClient
        let pool: String
        /// Username → the person it belongs to now (u1's is u0's, after the merge).
        var people: [String: UUID] = [:]
        var subs: [String: String] = [:]
        /// u1's own ID before it was merged into u0.
        var mergedID = UUID()

        func stamp(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (CLI.Output, [String: Any]) {
            let run = try CLI.run(
                ["stamp", "--pool", pool, "--format", "json"] + arguments, environment: env.merging(extra) { $1 })
            let json = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]) ?? [:]
            return (run, json)
        }

        /// Username → the attribute, for the users of the pool that have one.
        func stamped() async throws -> [String: String] {
            var values: [String: String] = [:]
            for try await page in client.listUsers(poolID: pool) {
                for user in page.Users { values[user.Username] = user.attribute(StampTests.attribute) }
            }
            return values
        }

        /// What every mapped user should hold.
        var expected: [String: String] {
            Dictionary(uniqueKeysWithValues: StampTests.mapped.map { ($0, people[$0]!.uuidString.lowercased()) })
        }
    }

    /// A pool with `custom:stable_id` and an app client that may write only `email`; u0…u4 and
    /// `dis` imported, then u1 merged into u0 (its attribute still holding its own ID, as an
    /// earlier stamp would have left it) and `dis` disabled in Cognito; `late` made after the
    /// import, so not in the map. Seven users in all.
    static func plant() async throws -> Scenario {
        let client = try ImportTests.moto()
        let pool = try await client.createUserPool(
            name: "stamp-\(UUID().uuidString.prefix(6))", customAttributes: [SchemaAttribute(name: "stable_id")])
        _ = try await client.createUserPoolClient(poolID: pool, name: "web", writeAttributes: ["email", "given_name"])
        for username in mapped + ["dis"] {
            _ = try await client.createTestUser(
                poolID: pool, username: username, attributes: [AttributeType("email", "\(username)@example.com")])
        }
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)
        let imported = try CLI.run(["import", "--pool", pool], environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        var s = Scenario(db: db, env: env, client: client, pool: pool)
        for row in try db.rows("SELECT username, user_id, sub FROM identities WHERE pool_id = \(pool)") {
            s.people[try row.decode("username")] = try row.decode("user_id")
            s.subs[try row.decode("username")] = try row.decode("sub")
        }
        let merged = try #require(s.people["u1"]), survivor = try #require(s.people["u0"])
        _ = try await IdentityMapStore(database: db.database).merge(merged, into: survivor, attribution: Attribution(actor: .system))
            .run(on: db.database)
        try await client.adminUpdateUserAttributes(
            poolID: pool, username: "u1", attributes: [AttributeType(attribute, merged.uuidString.lowercased())])
        s.mergedID = merged
        s.people["u1"] = survivor
        try await client.adminDisableUser(poolID: pool, username: "dis")
        _ = try await client.createTestUser(poolID: pool, username: "late", attributes: [AttributeType("email", "late@example.com")])
        return s
    }

    @Test("each mapped user gets its person's ID, a merged one its survivor's; disabled and unmapped users are left alone; again: nothing")
    func stampsThenSkips() async throws {
        let s = try await Self.plant()
        let (run, report) = try s.stamp([])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(report["seen"] as? Int == 7 && report["changed"] as? Int == 5 && report["skipped"] as? Int == 0, "\(run.stdout)")
        #expect(report["unmapped"] as? Int == 1 && report["inactive"] as? Int == 1 && report["failed"] as? Int == 0, "late, dis")
        #expect(report["cleared"] as? Int == 0, "late and dis hold no value to remove")
        #expect(report["state"] as? String == "completed" && report["dry_run"] as? Bool == false)
        let values = try await s.stamped()
        #expect(values == s.expected, "\(values)")
        #expect(values["u1"] == s.people["u0"]?.uuidString.lowercased(), "never the merged ID")
        // One event per user written, naming the person, the pool and the sub; u1's names the ID it replaced.
        #expect(try s.db.count("events", where: "kind = 'user_stamped' AND pool_id = '\(s.pool)'") == 5)
        for username in Self.mapped {
            let person = s.people[username]!.uuidString.lowercased()
            let condition = """
                kind = 'user_stamped' AND user_id = '\(person)' AND sub = '\(s.subs[username]!)'
                AND details->>'attribute' = '\(Self.attribute)'
                """
            #expect(try s.db.count("events", where: condition) == 1, "\(username)")
        }
        let replaced = """
            kind = 'user_stamped' AND sub = '\(s.subs["u1"]!)' AND details->>'previous' = '\(s.mergedID.uuidString.lowercased())'
            """
        #expect(try s.db.count("events", where: replaced) == 1)
        let runID = try #require(report["run"] as? String)
        #expect(
            try s.db.count(
                "events",
                where: """
                    kind = 'stamp_run_finished' AND pool_id = '\(s.pool)' AND details->>'run' = '\(runID)'
                    AND details->>'state' = 'completed'
                    AND (details->>'changed')::int = 5 AND (details->>'seen')::int = 7 AND (details->>'unmapped')::int = 1
                    """) == 1)
        #expect(try s.db.count("stamp_runs", where: "id = '\(runID)' AND state = 'completed' AND changed = 5 AND seen = 7") == 1)

        let (again, againReport) = try s.stamp([])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(againReport["changed"] as? Int == 0 && againReport["skipped"] as? Int == 5 && againReport["seen"] as? Int == 7)
        #expect(try s.db.count("events", where: "kind = 'user_stamped'") == 5, "a run that changes nothing records no user")
        #expect(try s.db.count("events", where: "kind = 'stamp_run_finished'") == 2)
        #expect(try await s.stamped() == s.expected)
    }

    @Test(
        "refused before anything is written: a client with WriteAttributes unset or naming the attribute, a Number or missing attribute, a standard one, an unregistered pool"
    )
    func refusals() async throws {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        // Pool A: its one app client leaves WriteAttributes unset (Cognito's default: every attribute).
        let open = try await client.createUserPool(name: "stamp-open-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")])
        let openClient = try await client.createUserPoolClient(poolID: open, name: "anyone", writeAttributes: nil)
        // Pool B: a client that names the attribute, and a Number attribute.
        let named = try await client.createUserPool(
            name: "stamp-named-\(suffix)",
            customAttributes: [SchemaAttribute(name: "stable_id"), SchemaAttribute(name: "num", type: "Number")])
        _ = try await client.createUserPoolClient(poolID: named, name: "safe", writeAttributes: ["email"])
        let writer = try await client.createUserPoolClient(poolID: named, name: "writer", writeAttributes: ["email", Self.attribute])
        for pool in [open, named] {
            _ = try await client.createTestUser(poolID: pool, username: "alice", attributes: [AttributeType("email", "alice@example.com")])
            #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)
            #expect(try CLI.run(["import", "--pool", pool], environment: env).status == 0)
        }
        func stamp(_ pool: String, _ more: [String] = []) throws -> CLI.Output {
            try CLI.run(["stamp", "--pool", pool] + more, environment: env)
        }
        let unset = try stamp(open)
        #expect(
            unset.status == 2 && unset.stderr.contains("\(openClient) (anyone)") && unset.stderr.contains("WriteAttributes"),
            "\(unset.stderr)")
        let listed = try stamp(named)
        #expect(listed.status == 2 && listed.stderr.contains("\(writer) (writer)") && !listed.stderr.contains("(safe)"), "\(listed.stderr)")
        let number = try stamp(named, ["--attribute", "custom:num"])
        #expect(number.status == 2 && number.stderr.contains("Number"), "\(number.stderr)")
        let missing = try stamp(named, ["--attribute", "custom:nothing"])
        #expect(missing.status == 2 && missing.stderr.contains("no custom:nothing attribute"), "\(missing.stderr)")
        #expect(try stamp(named, ["--attribute", "nickname"]).status == 2)
        let unknown = try stamp("us-east-1_NotRegistered")
        #expect(unknown.status == 2 && unknown.stderr.contains("not registered"), "\(unknown.stderr)")
        for bad in [["--dry-run", "--resume"], ["--dry-run", "--limit", "3"], ["--limit", "0"], ["--workers", "0"], ["--rate", "0"]] {
            #expect(try stamp(named, bad).status == 2, "\(bad)")
        }
        for pool in [open, named] {
            var values: [String] = []
            for try await page in client.listUsers(poolID: pool) { values += page.Users.compactMap { $0.attribute(Self.attribute) } }
            #expect(values.isEmpty, "\(pool): nothing written")
        }
        #expect(try db.count("events", where: "kind IN ('user_stamped', 'stamp_run_finished')") == 0)
        #expect(try db.count("stamp_runs") == 0)
    }

    @Test("--dry-run counts what it would write and writes nothing; a real run is refused while another holds the pool")
    func dryRunAndOneRunAtATime() async throws {
        let s = try await Self.plant()
        let (dry, report) = try s.stamp(["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(report["would_change"] as? Int == 5 && report["changed"] as? Int == 0 && report["seen"] as? Int == 7, "\(dry.stdout)")
        #expect(report["dry_run"] as? Bool == true && report["run"] is NSNull)
        let text = try CLI.run(["stamp", "--pool", s.pool, "--dry-run"], environment: s.env)
        #expect(text.status == 0 && text.stdout.contains("would_change") && !text.stdout.contains("@example"), "\(text.stdout)")
        #expect(try await s.stamped() == ["u1": s.mergedID.uuidString.lowercased()], "nothing written")
        #expect(try s.db.count("events", where: "kind IN ('user_stamped', 'stamp_run_finished')") == 0)
        #expect(try s.db.count("stamp_runs") == 0)

        let acquired = try await SessionAdvisoryLock.acquire(
            name: PoolStamp.lockName(PoolID(s.pool)!), configuration: s.db.database.primary.configuration, applicationName: "test")
        let lock = try #require(acquired)
        let busy = try s.stamp([]).0
        #expect(busy.status == 2 && busy.stderr.contains("another stamp"), "\(busy.stderr)")
        #expect(try s.stamp(["--dry-run"]).0.status == 0, "a dry run takes no lock")
        await lock.unlock()
        #expect(try s.stamp([]).0.status == 0)
        #expect(try await s.stamped() == s.expected)
    }

    @Test("an interrupted run resumes from its last saved page: nothing saved is read again, nobody is written or counted twice")
    func resumes() async throws {
        let s = try await Self.plant()
        // Pages of two users; stopped at the third write, inside its page — that page is not saved.
        let (first, firstReport) = try s.stamp(["--page-size", "2", "--limit", "3"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(firstReport["changed"] as? Int == 3 && firstReport["limit_reached"] as? Bool == true, "\(first.stdout)")
        #expect(firstReport["state"] as? String == "stopped")
        let runID = try #require(firstReport["run"] as? String)
        let saved: Int = try s.db.rows("SELECT pages FROM stamp_runs WHERE id = \(runID)::uuid")[0].decode("pages")
        #expect(saved >= 1 && saved < 4, "\(saved) pages saved")
        #expect(try s.db.count("events", where: "kind = 'user_stamped'") == 3)

        // As a kill -9 leaves it; and since then the first user it wrote (in a saved page) was changed.
        try s.db.connect().execute("UPDATE stamp_runs SET state = 'running' WHERE id = \(runID)::uuid")
        let firstSub: String = try s.db.rows(
            "SELECT sub FROM events WHERE kind = 'user_stamped' ORDER BY id LIMIT 1")[0].decode("sub")
        let firstUser = try #require(s.subs.first { $0.value == firstSub }?.key)
        let stranger = UUID().uuidString.lowercased()
        try await s.client.adminUpdateUserAttributes(
            poolID: s.pool, username: firstUser, attributes: [AttributeType(Self.attribute, stranger)])

        let (resumed, report) = try s.stamp(["--page-size", "2", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stdout) \(resumed.stderr)")
        #expect(report["run"] as? String == runID && report["resumed"] as? Bool == true && report["state"] as? String == "completed")
        // The whole run's counts: each user once, however many times its page was read.
        #expect(report["seen"] as? Int == 7 && report["changed"] as? Int == 5 && report["pages"] as? Int == 4, "\(resumed.stdout)")
        #expect(report["skipped"] as? Int == 0 && report["unmapped"] as? Int == 1 && report["inactive"] as? Int == 1)
        #expect(try s.db.count("events", where: "kind = 'user_stamped'") == 5)
        #expect(try s.db.rows("SELECT count(DISTINCT sub) AS n FROM events WHERE kind = 'user_stamped'")[0].decode("n", as: Int.self) == 5)
        var values = try await s.stamped()
        #expect(values[firstUser] == stranger, "its page was saved: the resumed run did not read it again")
        values[firstUser] = s.expected[firstUser]
        #expect(values == s.expected)
        #expect(try s.stamp(["--resume"]).0.status == 2, "nothing left to resume")

        // A new run reads everything again and puts the first user right.
        let (fresh, freshReport) = try s.stamp([])
        #expect(fresh.status == 0 && freshReport["changed"] as? Int == 1 && freshReport["skipped"] as? Int == 4, "\(fresh.stdout)")
        #expect(try await s.stamped() == s.expected)
    }

    @Test("throttling is absorbed: AdminUpdateUserAttributes answered TooManyRequestsException is retried, never surfaced")
    func throttlingAbsorbed() async throws {
        let s = try await Self.plant()
        let proxy = try await ThrottleProxy.start(operation: "AdminUpdateUserAttributes", throttleFirst: 4)
        defer { proxy.stop() }
        let (run, report) = try s.stamp(["--workers", "2", "--rate", "100"], environment: proxy.environment)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(report["changed"] as? Int == 5 && report["failed"] as? Int == 0, "\(run.stdout)")
        let counts = try await proxy.counts()
        #expect(counts.throttled == 4 && counts.forwarded == 5, "\(counts)")
        #expect(try await s.stamped() == s.expected)
        #expect(try s.db.count("events", where: "kind = 'user_stamped'") == 5)
    }
}
