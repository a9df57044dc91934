import Cognito
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// A campaign over a subset of the source users (`campaign create --only custom:country=DE,FR`)
/// end to end against moto: reconciliation waits only for members and reports one linked in
/// another campaign's target apart; progress follows; `campaign cleanup` disables or deletes
/// exactly the members whose new account has been in use long enough, never a flagged, changed or
/// non-member user, refuses to apply on an old reconciliation, and resumes without touching
/// anyone twice.
@Suite("Subset campaigns and the clean-up of the source", .timeLimit(.minutes(5)))
struct SubsetCampaignTests {
    struct Scenario {
        let db: TestDatabase
        let env: [String: String]
        let client: CognitoClient
        let source: String
        let target: String
        let other: String
        let campaign: String
        var people: [String: UUID] = [:]
        var subs: [String: String] = [:]

        /// Members (DE, FR) and not (US), by what happened to them.
        static let countries: [String: String] = [
            "de1": "DE", "fr1": "FR",  // migrated, signed in 40 days ago: cleaned
            "de2": "DE", "de3": "DE", "fr2": "FR",  // not migrated: unmigrated
            "de4": "DE",  // in the target of another campaign: migrated_elsewhere
            "de5": "DE",  // migrated, signed in 2 days ago: too recent
            "de6": "DE",  // migrated, never signed in
            "de7": "DE",  // migrated, and someone signed up in the target with her verified email: a duplicate
            "de8": "DE",  // migrated, changed in the source since
            "us1": "US",  // linked in the target, signed in long ago, but no member
            "us2": "US",  // nothing
        ]
        static let linked = ["de1", "fr1", "de5", "de6", "de7", "de8", "us1"]
        static let unmigrated: Set<String> = ["de2", "de3", "fr2"]

        var campaignID: String {
            get throws { try db.rows("SELECT id::text AS id FROM campaigns WHERE name = \(campaign)")[0].decode("id") }
        }

        func cleanup(_ arguments: [String]) throws -> (CLI.Output, [String: Any]) {
            let run = try CLI.run(["campaign", "cleanup", campaign, "--format", "json"] + arguments, environment: env)
            let json = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]) ?? [:]
            return (run, json)
        }

        func reconcile() throws -> [String: Any] {
            let run = try CLI.run(["reconcile", "--campaign", campaign, "--format", "json"], environment: env)
            #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
            return (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]) ?? [:]
        }

        /// Open findings of `kind`, by source username.
        func open(_ kind: String) throws -> Set<String> {
            var usernames: Set<String> = []
            for row in try db.rows(
                """
                SELECT i.username FROM findings f JOIN identities i ON i.pool_id = f.pool_id AND i.sub = f.sub
                WHERE f.kind = \(kind) AND f.state = 'open' AND f.pool_id = \(source)
                """
            ) {
                usernames.insert(try row.decode("username"))
            }
            return usernames
        }

        /// The source user as the pool has it now; nil when it is gone.
        func sourceUser(_ username: String) async throws -> AdminGetUserResponse? {
            do {
                return try await client.adminGetUser(poolID: source, username: username)
            } catch let error as CognitoError where error.type == .userNotFound {
                return nil
            }
        }

        /// Usernames of the users a cleanup summary lists (by sub).
        func listed(_ summary: [String: Any]) -> Set<String> {
            let subs = Set(((summary["users"] as? [[String: Any]]) ?? []).compactMap { $0["sub"] as? String })
            return Set(self.subs.filter { subs.contains($0.value) }.keys)
        }

        /// The source identities' status in the map, by username.
        func statuses() throws -> [String: String] {
            var result: [String: String] = [:]
            for row in try db.rows("SELECT username, status FROM identities WHERE pool_id = \(source)") {
                result[try row.decode("username")] = try row.decode("status")
            }
            return result
        }

        /// `identity_status_changed` events the campaign's clean-up wrote, by source sub.
        func cleanupEvents() throws -> [String: Int] {
            var result: [String: Int] = [:]
            let campaign = try campaignID
            for row in try db.rows(
                """
                SELECT sub, count(*)::int AS n FROM events
                WHERE kind = 'identity_status_changed' AND details->>'campaign' = \(campaign) GROUP BY sub
                """
            ) {
                result[try row.decode("sub")] = try row.decode("n")
            }
            return result
        }
    }

    @Test("--only on an attribute an app client of the source lets users write is refused, naming the client, unless accepted")
    func userWritableAttribute() async throws {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let source = try await client.createUserPool(name: "sov-w-\(suffix)", customAttributes: [SchemaAttribute(name: "country")])
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", source], environment: env).status == 0)
        // A target holds one campaign: each create gets its own.
        func create(_ name: String, _ extra: [String] = []) async throws -> CLI.Output {
            let target = try await client.createUserPool(name: "sov-w-\(name)")
            #expect(try CLI.run(["pool", "add", "--id", target], environment: env).status == 0)
            return try CLI.run(
                ["campaign", "create", "--source", source, "--target", target, "--name", name, "--only", "custom:country=DE"] + extra,
                environment: env)
        }
        // A client that names other attributes only: users cannot touch custom:country.
        _ = try await client.createUserPoolClient(poolID: source, name: "narrow", writeAttributes: ["email", "name"])
        #expect(try await create("fine-\(suffix)").status == 0)
        // A client with WriteAttributes unset writes every attribute.
        let open = try await client.createUserPoolClient(poolID: source, name: "web-app")
        let refused = try await create("refused-\(suffix)")
        #expect(refused.status == 2, "\(refused.stdout) \(refused.stderr)")
        #expect(refused.stderr.contains(open) && refused.stderr.contains("web-app") && refused.stderr.contains("custom:country"))
        #expect(try db.count("campaigns", where: "name = 'refused-\(suffix)'") == 0, "nothing created")
        let accepted = try await create("accepted-\(suffix)", ["--allow-user-writable-subset"])
        #expect(accepted.status == 0, "\(accepted.stdout) \(accepted.stderr)")
    }

    static func plant() async throws -> Scenario {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let source = try await client.createUserPool(name: "sov-old-\(suffix)", customAttributes: [SchemaAttribute(name: "country")])
        let target = try await client.createUserPool(name: "sov-eu-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")])
        let other = try await client.createUserPool(name: "sov-us-\(suffix)")
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in [source, target, other] { #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0) }
        let name = "eu-\(suffix)"
        let created = try CLI.run(
            [
                "campaign", "create", "--source", source, "--target", target, "--name", name, "--stable-id-attribute", "custom:stable_id",
                "--only", "custom:country=DE,FR",
            ], environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        // Another campaign, from the same source into another pool.
        let elsewhere = try CLI.run(
            ["campaign", "create", "--source", source, "--target", other, "--name", "us-\(suffix)"], environment: env)
        #expect(elsewhere.status == 0, "\(elsewhere.stderr)")
        var s = Scenario(db: db, env: env, client: client, source: source, target: target, other: other, campaign: name)

        for (username, country) in Scenario.countries.sorted(by: { $0.key < $1.key }) {
            _ = try await client.createTestUser(
                poolID: source, username: username,
                attributes: [
                    AttributeType("custom:country", country), AttributeType("email", "\(username)@example.com"),
                    AttributeType("email_verified", "true"),
                ])
        }
        let imported = try CLI.run(["import", "--pool", source], environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        for row in try db.rows("SELECT username, user_id, sub FROM identities WHERE pool_id = \(source)") {
            s.people[try row.decode("username")] = try row.decode("user_id")
            s.subs[try row.decode("username")] = try row.decode("sub")
        }
        let campaignID = UUID(uuidString: try s.campaignID)
        let store = IdentityMapStore(database: db.database)
        let by = Attribution(actor: .system)
        // Migrated into the target (as the triggers would have linked them).
        for username in Scenario.linked {
            let user = try await client.createTestUser(poolID: target, username: username)
            let identity = try NewIdentity(
                pool: PoolID(target)!, sub: try #require(user.attribute("sub")), username: username, via: .lazy, campaignID: campaignID)
            _ = try await store.linkIdentity(identity, to: try #require(s.people[username]), attribution: by).run(on: db.database)
        }
        // de4 went with the other campaign.
        let away = try NewIdentity(pool: PoolID(other)!, sub: UUID().uuidString.lowercased(), username: "de4", via: .invite)
        _ = try await store.linkIdentity(away, to: try #require(s.people["de4"]), attribution: by).run(on: db.database)
        // Someone signed up afresh in the target with de7's verified email.
        let again = try await client.createTestUser(
            poolID: target, username: "de7-again",
            attributes: [AttributeType("email", "de7@example.com"), AttributeType("email_verified", "true")])
        _ = try await store.createUser(
            identities: [
                try NewIdentity(
                    pool: PoolID(target)!, sub: try #require(again.attribute("sub")), username: "de7-again", email: "de7@example.com",
                    emailVerified: true)
            ],
            attribution: by
        ).run(on: db.database)
        // de8 changed in the source after migrating.
        try await client.adminUpdateUserAttributes(poolID: source, username: "de8", attributes: [AttributeType("given_name", "Changed")])
        // Sign-ins in the target, as the triggers record them.
        let signedIn: [String] = ["de1", "fr1", "de5", "de7", "de8", "us1"]
        try db.connect().execute(
            """
            INSERT INTO identity_sign_ins (identity_id, first_signed_in_at, last_signed_in_at)
            SELECT id, CASE WHEN username = 'de5' THEN now() - interval '2 days' ELSE now() - interval '40 days' END, now() - interval '1 day'
            FROM identities WHERE pool_id = \(target) AND username = ANY(\(PostgresArray(signedIn))::text[])
            """
        )
        return s
    }

    @Test(
        "reconciliation waits only for members not yet in the target, reports a member in another campaign's target apart, and follows attributes that change; progress counts the same"
    )
    func reconciliation() async throws {
        let s = try await Self.plant()
        let shown = try CLI.run(["campaign", "show", s.campaign, "--format", "json"], environment: s.env)
        let row = (try? JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [[String: String]])?.first ?? [:]
        #expect(row["subset"] == "custom:country=DE,FR", "\(shown.stdout)")

        let report = try s.reconcile()
        let counts = try #require(report["counts"] as? [String: Int], "\(report)")
        #expect(counts["unmigrated"] == 3 && counts["migrated_elsewhere"] == 1, "\(counts)")
        #expect(try s.open("unmigrated") == Scenario.unmigrated)
        #expect(try s.open("migrated_elsewhere") == ["de4"])
        let evidence = try s.db.rows("SELECT evidence->'target_pools'->>0 AS pool FROM findings WHERE kind = 'migrated_elsewhere'")
        #expect(try evidence[0].decode("pool", as: String.self) == s.other)
        #expect(try s.db.count("findings", where: "kind = 'duplicate' AND state = 'open'") == 1, "de7's verified email, twice")
        let progress = try CLI.run(["campaign", "progress", s.campaign, "--format", "json"], environment: s.env)
        let body = (try? JSONSerialization.jsonObject(with: Data(progress.stdout.utf8)) as? [String: Any]) ?? [:]
        #expect(
            body["remaining"] as? Int == 3 && body["remaining_source"] as? String == "reconciliation",
            "\(progress.stdout) \(progress.stderr)")

        // us2 moves to Germany (joins), de3 to the US (leaves): judged from the next snapshot.
        try await s.client.adminUpdateUserAttributes(poolID: s.source, username: "us2", attributes: [AttributeType("custom:country", "DE")])
        try await s.client.adminUpdateUserAttributes(poolID: s.source, username: "de3", attributes: [AttributeType("custom:country", "US")])
        let again = try s.reconcile()
        #expect((again["counts"] as? [String: Int])?["unmigrated"] == 3)
        #expect(try s.open("unmigrated") == ["de2", "fr2", "us2"])
        #expect(try s.db.count("findings", where: "kind = 'unmigrated' AND state = 'resolved' AND sub = '\(s.subs["de3"]!)'") == 1)
    }

    @Test(
        "clean-up: --dry-run lists exactly the members past the age; --apply refuses an old reconciliation, then disables exactly them, each an event, the identities kept"
    )
    func disable() async throws {
        let s = try await Self.plant()
        _ = try s.reconcile()
        #expect(try s.cleanup([]).0.status == 2, "one of --dry-run or --apply")
        #expect(try s.cleanup(["--dry-run", "--apply"]).0.status == 2)
        #expect(try s.cleanup(["--dry-run", "--older-than", "a month"]).0.status == 2)

        let (dry, dryReport) = try s.cleanup(["--dry-run"])
        #expect(dry.status == 0, "\(dry.stdout) \(dry.stderr)")
        #expect(dryReport["would_clean"] as? Int == 2 && s.listed(dryReport) == ["de1", "fr1"], "\(dry.stdout)")
        let skipped = try #require(dryReport["skipped"] as? [String: Int])
        #expect(
            skipped == [
                "too_recent": 1, "not_signed_in_target": 1, "flagged_duplicate": 1, "changed_after_migration": 1, "outside_subset": 1,
                "flagged_conflict": 0, "already_gone": 0, "in_progress": 0, "changed_during_run": 0,
            ], "de5, de6, de7, de8, us1: \(skipped)")
        #expect(try await s.sourceUser("de1")?.Enabled != false, "a dry run changes nothing")
        #expect(!dry.stdout.contains("@example"))

        // A reconciliation two days old: --apply refuses; a dry run only warns.
        try s.db.connect().execute(
            "UPDATE reconcile_runs SET started_at = started_at - interval '2 days', finished_at = finished_at - interval '2 days'")
        let (stale, _) = try s.cleanup(["--apply"])
        #expect(stale.status == 2 && stale.stderr.contains("stableid reconcile --campaign"), "\(stale.stderr)")
        #expect(try await s.sourceUser("de1")?.Enabled != false)
        let (staleDry, staleDryReport) = try s.cleanup(["--dry-run"])
        #expect(staleDry.status == 0 && ((staleDryReport["warnings"] as? [String]) ?? []).contains { $0.contains("h ago") })

        _ = try s.reconcile()
        let (applied, report) = try s.cleanup(["--apply"])
        #expect(applied.status == 0, "\(applied.stdout) \(applied.stderr)")
        #expect(report["cleaned"] as? Int == 2 && s.listed(report) == ["de1", "fr1"], "\(applied.stdout)")
        for username in Scenario.countries.keys.sorted() {
            let user = try #require(try await s.sourceUser(username), "\(username) is still in the pool")
            #expect((user.Enabled != false) == !["de1", "fr1"].contains(username), "\(username): \(String(describing: user.Enabled))")
        }
        let statuses = try s.statuses()
        #expect(
            statuses["de1"] == "disabled" && statuses["fr1"] == "disabled" && statuses["de5"] == "active" && statuses["us1"] == "active")
        // Kept on their person: the old sub still resolves to them.
        #expect(try s.db.count("identities", where: "pool_id = '\(s.source)' AND user_id = '\(s.people["de1"]!)'") == 1)
        #expect(try s.cleanupEvents() == [s.subs["de1"]!: 1, s.subs["fr1"]!: 1])
        #expect(
            try s.db.count(
                "events",
                where: "kind = 'identity_status_changed' AND details->>'to' = 'disabled' AND details->>'reason' = 'campaign cleanup'") == 2)
        #expect(try s.db.count("events", where: "kind = 'campaign_cleanup_completed' AND (details->>'cleaned')::int = 2") == 1)

        // Again: nobody left to clean; nothing written twice.
        let (again, againReport) = try s.cleanup(["--apply"])
        #expect(again.status == 0 && againReport["cleaned"] as? Int == 0, "\(again.stdout)")
        #expect(try s.cleanupEvents().values.reduce(0, +) == 2)
    }

    @Test(
        "clean-up --mode delete: --limit, then an interruption (one row planted with its call made, one without) resumed with --resume: each user deleted once"
    )
    func deleteAndResume() async throws {
        let s = try await Self.plant()
        _ = try s.reconcile()
        let eligible: Set<String> = ["de1", "fr1", "de5"]  // with --older-than 0s
        let (first, firstReport) = try s.cleanup(["--apply", "--mode", "delete", "--older-than", "0s", "--limit", "1"])
        #expect(first.status == 0, "\(first.stdout) \(first.stderr)")
        #expect(firstReport["cleaned"] as? Int == 1 && firstReport["limit_reached"] as? Bool == true, "\(first.stdout)")
        let done = s.listed(firstReport)
        #expect(done.count == 1 && done.isSubset(of: eligible))
        let rest = eligible.subtracting(done).sorted()
        let (untouched, reached) = (rest[0], rest[1])
        // A run killed after writing both rows: its call reached Cognito for one of them only.
        let campaignID = try s.campaignID
        let interrupted: [String] = [untouched, reached]
        try s.db.connect().execute(
            """
            INSERT INTO cleanup_users (campaign_id, identity_id, user_id, pool_id, sub, mode, state, attempts)
            SELECT \(campaignID)::uuid, id, user_id, pool_id, sub, 'delete', 'cleaning', 1 FROM identities
            WHERE pool_id = \(s.source) AND username = ANY(\(PostgresArray(interrupted))::text[])
            """
        )
        try await s.client.adminDeleteUser(poolID: s.source, username: reached)

        let (refused, _) = try s.cleanup(["--apply", "--mode", "delete", "--older-than", "0s"])
        #expect(refused.status == 2 && refused.stderr.contains("--resume"), "\(refused.stderr)")
        let (resumed, report) = try s.cleanup(["--apply", "--mode", "delete", "--older-than", "0s", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stdout) \(resumed.stderr)")
        #expect(report["settled"] as? Int == 1 && report["cleaned"] as? Int == 2, "\(resumed.stdout)")
        #expect(s.listed(report) == Set(rest))
        for username in eligible { #expect(try await s.sourceUser(username) == nil, "\(username) is deleted") }
        for username in ["de6", "de7", "de8", "us1", "de2"] { #expect(try await s.sourceUser(username) != nil, "\(username) is kept") }
        // One event per user, whoever's call it was; every row done; the identities kept as deleted.
        #expect(try s.cleanupEvents() == Dictionary(uniqueKeysWithValues: eligible.map { (s.subs[$0]!, 1) }))
        #expect(try s.db.count("cleanup_users", where: "state = 'done' AND mode = 'delete'") == 3)
        let statuses = try s.statuses()
        #expect(eligible.allSatisfy { statuses[$0] == "deleted" }, "\(statuses)")

        let (again, againReport) = try s.cleanup(["--apply", "--mode", "delete", "--older-than", "0s"])
        #expect(again.status == 0 && againReport["cleaned"] as? Int == 0, "\(again.stdout)")
        #expect(try s.cleanupEvents().values.reduce(0, +) == 3)
    }
}
