import Cognito
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// `stableid stamp` removes what it must not leave, end to end against moto: a value on a user the
/// map does not hold, on an unlinked identity, or on a disabled user when it is someone else's ID.
/// A second run clears nothing, a dry run clears nothing, a resumed run counts each removal once,
/// and a campaign's link evidence stays. On `StampTests`' pool.
@Suite("stableid stamp: clearing", .timeLimit(.minutes(5)))
struct StampClearTests {
    static let attribute = StampTests.attribute

    /// `StampTests.plant()`, then values stamp must not leave: u4 stamped with its person's ID (as
    /// an earlier run would have), then unlinked in the map; `late` (not in the map) given u2's
    /// person's ID by an administrator; `dis` (disabled in Cognito) given u3's.
    static func plantStale() async throws -> StampTests.Scenario {
        let s = try await StampTests.plant()
        let u4 = try #require(s.people["u4"])
        try await s.client.adminUpdateUserAttributes(
            poolID: s.pool, username: "u4", attributes: [AttributeType(attribute, u4.uuidString.lowercased())])
        _ = try await IdentityMapStore(database: s.db.database).unlink(
            pool: try #require(PoolID(s.pool)), sub: try #require(s.subs["u4"]), from: u4, attribution: Attribution(actor: .system)
        ).run(on: s.db.database)
        try await s.client.adminUpdateUserAttributes(
            poolID: s.pool, username: "late", attributes: [AttributeType(attribute, try id("u2", s))])
        try await s.client.adminUpdateUserAttributes(
            poolID: s.pool, username: "dis", attributes: [AttributeType(attribute, try id("u3", s))])
        return s
    }

    /// The stable ID of `username`'s person, as the attribute holds it.
    static func id(_ username: String, _ s: StampTests.Scenario) throws -> String {
        try #require(s.people[username]).uuidString.lowercased()
    }

    /// What the mapped, linked users should hold once stamped: u0…u3 (u4 is unlinked).
    static func expected(_ s: StampTests.Scenario) -> [String: String] {
        var expected = s.expected
        expected["u4"] = nil
        return expected
    }

    /// The attribute as AdminGetUser reads it (every attribute, not only ListUsers' selection).
    static func value(_ username: String, _ s: StampTests.Scenario) async throws -> String? {
        try await s.client.adminGetUser(poolID: s.pool, username: username).attribute(attribute)
    }

    @Test("unmapped, unlinked and a disabled user's someone-else's ID are removed; mapped users stamped; again: nothing")
    func clearsWhatIsNotTheirs() async throws {
        let s = try await Self.plantStale()
        let lateSub = try #require(try await s.client.adminGetUser(poolID: s.pool, username: "late").attribute("sub"))
        let u2 = try Self.id("u2", s)
        let u3 = try Self.id("u3", s)
        let u4 = try Self.id("u4", s)
        let dis = try Self.id("dis", s)
        let u4Sub = try #require(s.subs["u4"])
        let disSub = try #require(s.subs["dis"])
        let (run, report) = try s.stamp([])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(report["seen"] as? Int == 7 && report["changed"] as? Int == 4 && report["cleared"] as? Int == 3, "\(run.stdout)")
        #expect(report["skipped"] as? Int == 0 && report["unmapped"] as? Int == 0 && report["inactive"] as? Int == 0, "\(run.stdout)")
        #expect(report["failed"] as? Int == 0 && report["would_clear"] as? Int == 0 && report["state"] as? String == "completed")
        #expect(try await s.stamped() == Self.expected(s), "u4, late and dis hold nothing")
        for username in ["u4", "late", "dis"] {
            #expect(try await Self.value(username, s) == nil, "\(username)")
        }
        #expect(try await Self.value("u2", s) == u2, "a mapped user has its person's ID")

        // One event per user cleared: the pool and sub, the identity's person when the map holds
        // the sub, why, and the ID the attribute held.
        let cleared = "kind = 'stable_id_attribute_cleared' AND pool_id = '\(s.pool)' AND details->>'attribute' = '\(Self.attribute)'"
        #expect(try s.db.count("events", where: cleared) == 3)
        let unlinked = """
            \(cleared) AND sub = '\(u4Sub)' AND user_id = '\(u4)' AND details->>'reason' = 'unlinked'
            AND details->>'previous' = '\(u4)'
            """
        #expect(try s.db.count("events", where: unlinked) == 1)
        let notInMap = """
            \(cleared) AND sub = '\(lateSub)' AND user_id IS NULL AND details->>'reason' = 'not_in_map'
            AND details->>'previous' = '\(u2)'
            """
        #expect(try s.db.count("events", where: notInMap) == 1)
        let disabled = """
            \(cleared) AND sub = '\(disSub)' AND user_id = '\(dis)' AND details->>'reason' = 'not_the_person'
            AND details->>'previous' = '\(u3)'
            """
        #expect(try s.db.count("events", where: disabled) == 1)
        // No personal data: nothing beside the events, and nothing in them but these keys.
        #expect(
            try s.db.count(
                "event_personal_data", where: "event_id IN (SELECT id FROM events WHERE kind = 'stable_id_attribute_cleared')") == 0)
        let otherKeys = """
            kind = 'stable_id_attribute_cleared'
            AND ARRAY(SELECT jsonb_object_keys(details) ORDER BY 1) <> ARRAY['attribute', 'previous', 'reason', 'run']
            """
        #expect(try s.db.count("events", where: otherKeys) == 0)
        #expect(try s.db.count("events", where: "kind = 'user_stamped'") == 4)
        let runID = try #require(report["run"] as? String)
        #expect(try s.db.count("stamp_runs", where: "id = '\(runID)' AND changed = 4 AND cleared = 3 AND seen = 7") == 1)
        let finished = """
            kind = 'stamp_run_finished' AND details->>'run' = '\(runID)' AND (details->>'cleared')::int = 3
            AND (details->>'changed')::int = 4
            """
        #expect(try s.db.count("events", where: finished) == 1)

        let (again, againReport) = try s.stamp([])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(
            againReport["changed"] as? Int == 0 && againReport["cleared"] as? Int == 0 && againReport["skipped"] as? Int == 4,
            "\(again.stdout)")
        #expect(againReport["unmapped"] as? Int == 2 && againReport["inactive"] as? Int == 1 && againReport["seen"] as? Int == 7)
        #expect(try s.db.count("events", where: cleared) == 3, "a run that clears nothing records nothing")
        #expect(try await s.stamped() == Self.expected(s))

        // A disabled user keeps its own person's ID: that is who the map says it is.
        try await s.client.adminUpdateUserAttributes(poolID: s.pool, username: "dis", attributes: [AttributeType(Self.attribute, dis)])
        let text = try CLI.run(["stamp", "--pool", s.pool], environment: s.env)
        #expect(text.status == 0 && text.stdout.contains("cleared"), "\(text.stdout)")
        #expect(try await Self.value("dis", s) == dis)
        #expect(try s.db.count("events", where: cleared) == 3)
    }

    @Test("--dry-run counts what it would clear and removes nothing")
    func dryRunClearsNothing() async throws {
        let s = try await Self.plantStale()
        let before = try await s.stamped()
        #expect(before["u4"] != nil && before["late"] != nil && before["dis"] != nil)
        let (dry, report) = try s.stamp(["--dry-run"])
        #expect(dry.status == 0, "\(dry.stderr)")
        #expect(report["would_clear"] as? Int == 3 && report["cleared"] as? Int == 0, "\(dry.stdout)")
        #expect(report["would_change"] as? Int == 4 && report["changed"] as? Int == 0 && report["seen"] as? Int == 7, "\(dry.stdout)")
        let text = try CLI.run(["stamp", "--pool", s.pool, "--dry-run"], environment: s.env)
        #expect(text.status == 0 && text.stdout.contains("would_clear"), "\(text.stdout)")
        #expect(try await s.stamped() == before, "nothing written, nothing removed")
        #expect(try s.db.count("events", where: "kind IN ('user_stamped', 'stable_id_attribute_cleared', 'stamp_run_finished')") == 0)
        #expect(try s.db.count("stamp_runs") == 0)
    }

    @Test("a run stopped after a removal resumes without counting it twice")
    func resumesAfterClearing() async throws {
        let s = try await Self.plantStale()
        // Pages of two users (moto lists them as made: u0 u1 | u2 u3 | u4 dis | late); the fifth
        // write is u4's removal, and the run stops inside that page, which is not saved.
        let (first, firstReport) = try s.stamp(["--page-size", "2", "--limit", "5"])
        #expect(first.status == 0, "\(first.stderr)")
        #expect(firstReport["changed"] as? Int == 4 && firstReport["cleared"] as? Int == 1, "\(first.stdout)")
        #expect(firstReport["limit_reached"] as? Bool == true && firstReport["state"] as? String == "stopped")
        let runID = try #require(firstReport["run"] as? String)

        let (resumed, report) = try s.stamp(["--page-size", "2", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stdout) \(resumed.stderr)")
        #expect(report["run"] as? String == runID && report["resumed"] as? Bool == true && report["state"] as? String == "completed")
        // The whole run's counts: each user once, however many times its page was read.
        #expect(report["seen"] as? Int == 7 && report["changed"] as? Int == 4 && report["cleared"] as? Int == 3, "\(resumed.stdout)")
        #expect(report["unmapped"] as? Int == 0 && report["inactive"] as? Int == 0 && report["pages"] as? Int == 4)
        #expect(try s.db.count("stamp_runs", where: "id = '\(runID)' AND seen = 7 AND cleared = 3") == 1)
        #expect(try s.db.count("events", where: "kind = 'stable_id_attribute_cleared'") == 3)
        #expect(
            try s.db.rows("SELECT count(DISTINCT sub) AS n FROM events WHERE kind = 'stable_id_attribute_cleared'")[0]
                .decode("n", as: Int.self) == 3)
        #expect(try await s.stamped() == Self.expected(s))
    }

    @Test("in the target of a campaign that links new users by the attribute, a user not in the map keeps its value; unlinked ones lose it")
    func campaignLinkEvidenceStays() async throws {
        let s = try await Self.plantStale()
        let u2 = try Self.id("u2", s)
        let suffix = UUID().uuidString.prefix(6)
        let source = try await s.client.createUserPool(name: "stamp-src-\(suffix)")
        #expect(try CLI.run(["pool", "add", "--id", source], environment: s.env).status == 0)
        let name = "into-\(suffix)"
        let created = try CLI.run(
            ["campaign", "create", "--source", source, "--target", s.pool, "--name", name, "--stable-id-attribute", Self.attribute],
            environment: s.env)
        #expect(created.status == 0, "\(created.stderr)")

        let (run, report) = try s.stamp([])
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        #expect(report["changed"] as? Int == 4 && report["cleared"] as? Int == 2 && report["unmapped"] as? Int == 1, "\(run.stdout)")
        let warnings = report["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.contains(name) && $0.contains(Self.attribute) }, "\(warnings)")
        #expect(try await Self.value("late", s) == u2, "the campaign's triggers link late by it")
        #expect(try await Self.value("u4", s) == nil)
        #expect(try await Self.value("dis", s) == nil)
        #expect(try s.db.count("events", where: "kind = 'stable_id_attribute_cleared' AND details->>'reason' = 'not_in_map'") == 0)
    }

    @Test("upgrading to 0027: runs recorded before keep their counts with nothing cleared, and the sum counts cleared users")
    func clearedColumnUpgrade() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let connection = try db.connect()
        // Migrate to just before 0027, as an existing installation is.
        try await withTemporaryDirectory("sql") { earlier in
            for file in try FileManager.default.contentsOfDirectory(atPath: TestDatabase.sqlDirectory.path) where file < "0027" {
                try FileManager.default.copyItem(
                    at: TestDatabase.sqlDirectory.appendingPathComponent(file), to: earlier.appendingPathComponent(file))
            }
            _ = try SchemaMigrator(directory: earlier).migrate(on: connection)
        }
        try connection.execute(
            """
            INSERT INTO pools (id, region, issuer)
            VALUES ('us-east-1_Upgrade', 'us-east-1', 'https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Upgrade')
            """)
        try connection.execute(
            """
            INSERT INTO stamp_runs (id, pool_id, attribute, state, seen, changed, skipped)
            VALUES (gen_random_uuid(), 'us-east-1_Upgrade', 'custom:stable_id', 'stopped', 5, 3, 2)
            """)
        let applied = try SchemaMigrator(directory: TestDatabase.sqlDirectory).migrate(on: connection)
        #expect(applied.map(\.version).contains(27))
        #expect(try db.count("stamp_runs", where: "seen = 5 AND changed = 3 AND cleared = 0") == 1)
        #expect(throws: PostgresError.self) { try connection.execute("UPDATE stamp_runs SET cleared = cleared + 1") }
        try connection.execute("UPDATE stamp_runs SET seen = seen + 1, cleared = cleared + 1")
        #expect(try db.count("stamp_runs", where: "seen = 6 AND cleared = 1") == 1)
    }
}
