import Cognito
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// `stableid campaign finalize` end to end against moto: a reconciled campaign whose source users
/// are exported, created without a password, or invited — exactly the unmigrated set less the
/// person held for a duplicate made on purpose, nobody twice, resumable after an interruption.
/// More in FinalizeTests+Invite.swift.
@Suite("stableid campaign finalize", .timeLimit(.minutes(5)))
struct FinalizeTests {
    /// A campaign reconciled once: who is where, and each source user's person.
    struct Scenario {
        let db: TestDatabase
        let env: [String: String]
        let client: CognitoClient
        let source: String
        let target: String
        let campaign: String
        var people: [String: UUID] = [:]
        var subs: [String: String] = [:]

        /// Source users with a verified email and a given name (every mode moves them).
        static let emailUsers = (0..<6).map { "u\($0)" }
        /// The users every mode moves: phil has a verified phone, vera an unverified email and a
        /// verified phone (invited by SMS); nina has neither email nor phone, dan is held.
        static let movable = Set(emailUsers + ["phil", "vera"])

        func finalize(_ arguments: [String]) throws -> (CLI.Output, [String: Any]) {
            let run = try CLI.run(["campaign", "finalize", campaign, "--format", "json"] + arguments, environment: env)
            let json = (try? JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any]) ?? [:]
            return (run, json)
        }

        /// The target pool's users by username.
        func targetUsers() async throws -> [String: UserType] {
            var users: [String: UserType] = [:]
            for try await page in client.listUsers(poolID: target) {
                for user in page.Users {
                    #expect(users[user.Username] == nil, "\(user.Username) is in the target twice")
                    users[user.Username] = user
                }
            }
            return users
        }

        /// Target identities in the map: sub → (person, via, campaign).
        func targetIdentities() throws -> [String: (person: UUID, via: String, campaign: String)] {
            var result: [String: (person: UUID, via: String, campaign: String)] = [:]
            for row in try db.rows(
                """
                SELECT sub, user_id, coalesce(via, '') AS via, coalesce(campaign_id::text, '') AS campaign FROM identities
                WHERE pool_id = \(target) AND status = 'active'
                """
            ) {
                result[try row.decode("sub")] = (try row.decode("user_id"), try row.decode("via"), try row.decode("campaign"))
            }
            return result
        }

        var campaignID: String {
            get throws { try db.rows("SELECT id::text AS id FROM campaigns WHERE name = \(campaign)")[0].decode("id") }
        }
    }

    /// A campaign into a target that admits no self sign-up, whose sign-in policy allows
    /// `factors` (nil: says nothing) and whose temporary passwords last `temporaryPasswordDays`,
    /// with an app client that may write every attribute (Cognito's default) — so only the
    /// admin-only sign-up vouches for a user found there.
    static func plant(
        factors: [String]? = ["PASSWORD", "EMAIL_OTP", "SMS_OTP"], temporaryPasswordDays: Int? = 3
    ) async throws -> Scenario {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let source = try await client.createUserPool(name: "fin-old-\(suffix)")
        let target = try await client.createUserPool(
            name: "fin-new-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")], adminCreateUserOnly: true,
            allowedFirstAuthFactors: factors, temporaryPasswordValidityDays: temporaryPasswordDays)
        _ = try await client.createUserPoolClient(poolID: target, name: "app")
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in [source, target] { #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0) }
        let name = "fin-\(suffix)"
        let created = try CLI.run(
            ["campaign", "create", "--source", source, "--target", target, "--name", name, "--stable-id-attribute", "custom:stable_id"],
            environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        var s = Scenario(db: db, env: env, client: client, source: source, target: target, campaign: name)

        for username in Scenario.emailUsers {
            _ = try await client.createTestUser(
                poolID: source, username: username,
                attributes: [
                    AttributeType("email", "\(username)@example.com"), AttributeType("email_verified", "true"),
                    AttributeType("given_name", "Given \(username)"),
                ])
        }
        _ = try await client.createTestUser(
            poolID: source, username: "phil",
            attributes: [AttributeType("phone_number", "+15555550123"), AttributeType("phone_number_verified", "true")])
        _ = try await client.createTestUser(
            poolID: source, username: "vera",
            attributes: [
                AttributeType("email", "vera@example.con"), AttributeType("email_verified", "false"),
                AttributeType("phone_number", "+15555550124"), AttributeType("phone_number_verified", "true"),
            ])
        _ = try await client.createTestUser(poolID: source, username: "nina")
        _ = try await client.createTestUser(
            poolID: source, username: "dan",
            attributes: [AttributeType("email", "dan@example.com"), AttributeType("email_verified", "true")])
        let imported = try CLI.run(["import", "--pool", source], environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        for row in try db.rows("SELECT username, user_id, sub FROM identities WHERE pool_id = \(source)") {
            s.people[try row.decode("username")] = try row.decode("user_id")
            s.subs[try row.decode("username")] = try row.decode("sub")
        }
        // dan signed up afresh in the target with the same verified email: a duplicate, for a person.
        let again = try await client.createTestUser(
            poolID: target, username: "dan-again",
            attributes: [AttributeType("email", "dan@example.com"), AttributeType("email_verified", "true")])
        _ = try await IdentityMapStore(database: db.database).createUser(
            identities: [
                try NewIdentity(
                    pool: PoolID(target)!, sub: try #require(again.attribute("sub")), username: "dan-again", email: "dan@example.com",
                    emailVerified: true)
            ],
            attribution: Attribution(actor: .system)
        ).run(on: db.database)
        let reconciled = try CLI.run(["reconcile", "--campaign", name], environment: env)
        #expect(reconciled.status == 0, "\(reconciled.stdout) \(reconciled.stderr)")
        #expect(try db.count("findings", where: "kind = 'unmigrated' AND state = 'open'") == 10)
        #expect(try db.count("findings", where: "kind = 'duplicate' AND state = 'open'") == 1)
        return s
    }

    @Test("CSV: the header is the pool's, the rows exactly the unmigrated set less the held duplicate, live and from a file alike")
    func csvExport() async throws {
        let s = try await Self.plant()
        try await withTemporaryDirectory("finalize-csv") { dir in
            // Refused before anything moves: an --out that is no directory, a list-users CSV file.
            let notDirectory = dir.appendingPathComponent("not-a-directory")
            try Data().write(to: notDirectory)
            #expect(try s.finalize(["--mode", "csv", "--out", notDirectory.path]).0.status == 2)
            let lossy = try s.finalize(["--mode", "csv", "--out", dir.path, "--file", "\(s.source)=\(dir.path)/users.csv"]).0
            #expect(lossy.status == 2 && lossy.stderr.contains("list-users CSV"), "\(lossy.stderr)")
            #expect(try s.db.rows("SELECT phase FROM campaigns")[0].decode("phase", as: String.self) == "lazy")

            let (live, report) = try s.finalize(["--mode", "csv", "--out", dir.path])
            #expect(live.status == 0, "\(live.stdout) \(live.stderr)")
            #expect(report["header_source"] as? String == "DescribeUserPool", "moto answers 500 to GetCSVHeader")
            #expect(report["exported"] as? Int == Scenario.movable.count && report["held_count"] as? Int == 1, "\(live.stdout)")
            let held = (report["held"] as? [[String: Any]])?.first
            #expect(held?["user_id"] as? String == s.people["dan"]?.uuidString.lowercased())
            #expect((held?["reasons"] as? [String]) == ["duplicate"])
            #expect((report["skipped"] as? [String: Int])?["no_verified_contact"] == 1, "nina")
            let files = try #require(report["files"] as? [String])
            #expect(files == [dir.appendingPathComponent("\(s.campaign)-0001.csv").path])
            let lines = try String(contentsOfFile: files[0], encoding: .utf8).split(separator: "\n").map(String.init)
            // GetCSVHeader's documented columns, the pool's custom attribute, Cognito's two columns.
            let expectedHeader = [
                "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website",
                "email", "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address",
                "updated_at", "custom:stable_id", "cognito:mfa_enabled", "cognito:username",
            ]
            #expect(lines.first?.split(separator: ",", omittingEmptySubsequences: false).map(String.init) == expectedHeader)
            var rows: [String: [String: String]] = [:]
            for line in lines.dropFirst() {
                let values = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
                let row = Dictionary(uniqueKeysWithValues: zip(expectedHeader, values))
                rows[row["cognito:username"] ?? ""] = row
            }
            #expect(Set(rows.keys) == Scenario.movable, "\(rows.keys.sorted())")
            for (username, row) in rows {
                #expect(row["custom:stable_id"] == s.people[username]?.uuidString.lowercased(), "\(username)")
                #expect(row["cognito:mfa_enabled"] == "false")
            }
            #expect(rows["u3"]?["email"] == "u3@example.com" && rows["u3"]?["email_verified"] == "true")
            #expect(rows["u3"]?["given_name"] == "Given u3" && rows["u3"]?["phone_number_verified"] == "false")
            #expect(rows["phil"]?["phone_number"] == "+15555550123" && rows["phil"]?["phone_number_verified"] == "true")
            #expect(rows["vera"]?["email_verified"] == "false" && rows["vera"]?["phone_number_verified"] == "true")
            let mode = (try FileManager.default.attributesOfItem(atPath: files[0])[.posixPermissions] as? NSNumber)?.intValue
            #expect(mode.map { $0 & 0o777 } == 0o600, "the file holds emails and phone numbers")
            #expect(
                try s.db.count(
                    "events", where: "kind = 'campaign_finalize_exported' AND (details->>'users')::int = \(Scenario.movable.count)") == 1)
            let phase = try s.db.rows("SELECT phase FROM campaigns WHERE name = \(s.campaign)")[0].decode("phase", as: String.self)
            #expect(phase == "finalizing")

            // The same source from a list-users file gives the same rows; --out must be empty.
            #expect(try s.finalize(["--mode", "csv", "--out", dir.path]).0.status == 2, "the first file exists")
            let fromFile = dir.appendingPathComponent("file")
            try FileManager.default.createDirectory(at: fromFile, withIntermediateDirectories: false)
            let dump = dir.appendingPathComponent("source.json")
            var text = ""
            for try await page in s.client.listUsers(poolID: s.source) {
                text += String(decoding: try JSONEncoder().encode(["Users": page.Users]), as: UTF8.self) + "\n"
            }
            try text.write(to: dump, atomically: true, encoding: .utf8)
            let (filed, _) = try s.finalize(["--mode", "csv", "--out", fromFile.path, "--file", "\(s.source)=\(dump.path)"])
            #expect(filed.status == 0, "\(filed.stderr)")
            let copied = try String(contentsOfFile: fromFile.appendingPathComponent("\(s.campaign)-0001.csv").path, encoding: .utf8)
            #expect(Set(copied.split(separator: "\n")) == Set(lines.map { Substring($0) }))
            // Held in memory a few users at a time, the set is read in slices and the file once per
            // slice: the same rows, each once.
            let sliced = dir.appendingPathComponent("sliced")
            try FileManager.default.createDirectory(at: sliced, withIntermediateDirectories: false)
            let (slicedRun, slicedReport) = try s.finalize([
                "--mode", "csv", "--out", sliced.path, "--file", "\(s.source)=\(dump.path)", "--in-memory-users", "3",
            ])
            #expect(slicedRun.status == 0, "\(slicedRun.stderr)")
            #expect(slicedRun.stderr.contains("slice=4/4"), "10 unmigrated users, 3 a slice: \(slicedRun.stderr)")
            #expect(slicedReport["exported"] as? Int == Scenario.movable.count && slicedReport["held_count"] as? Int == 1)
            let slicedRows = try String(contentsOfFile: sliced.appendingPathComponent("\(s.campaign)-0001.csv").path, encoding: .utf8)
                .split(separator: "\n")
            #expect(slicedRows.count == lines.count && Set(slicedRows) == Set(lines.map { Substring($0) }), "\(slicedRows)")
            // Nothing was created in the target: CSV rows are not users yet.
            #expect(try await s.targetUsers().keys.sorted() == ["dan-again"])
        }
    }

    @Test(
        "passwordless: exactly the movable users are created, linked, attributed; an interrupted run resumes without creating anyone twice"
    )
    func passwordlessResumes() async throws {
        let s = try await Self.plant()
        let campaignID = try s.campaignID
        // A run killed after AdminCreateUser for u0, before its link: its row says creating.
        let u0 = try #require(s.people["u0"])
        _ = try await s.client.createTestUser(
            poolID: s.target, username: "u0",
            attributes: [
                AttributeType("email", "u0@example.com"), AttributeType("email_verified", "true"),
                AttributeType("custom:stable_id", u0.uuidString.lowercased()),
            ])
        try s.db.connect().execute(
            """
            INSERT INTO finalize_users (campaign_id, user_id, source_pool, source_sub, mode, state, target_username, attempts)
            VALUES (\(campaignID)::uuid, \(u0), \(s.source), \(s.subs["u0"]!), 'passwordless', 'creating', 'u0', 1)
            """
        )
        let (refused, _) = try s.finalize(["--mode", "passwordless"])
        #expect(refused.status == 2 && refused.stderr.contains("--resume"), "\(refused.stderr)")
        let (dry, dryReport) = try s.finalize(["--mode", "passwordless", "--dry-run"])
        #expect(dry.status == 0 && dryReport["would_create"] as? Int == Scenario.movable.count - 1, "\(dry.stdout)")
        #expect((dryReport["skipped"] as? [String: Int])?["in_progress"] == 1, "u0's row is settled only by --resume")
        #expect(try await s.targetUsers().count == 2, "a dry run creates nothing")

        let (resumed, report) = try s.finalize(["--mode", "passwordless", "--resume"])
        #expect(resumed.status == 0, "\(resumed.stdout) \(resumed.stderr)")
        #expect(report["adopted"] as? Int == 1 && report["created"] as? Int == Scenario.movable.count - 1, "\(resumed.stdout)")
        #expect(report["held_count"] as? Int == 1 && (report["skipped"] as? [String: Int])?["no_verified_contact"] == 1)
        let users = try await s.targetUsers()
        #expect(Set(users.keys) == Scenario.movable.union(["dan-again"]), "\(users.keys.sorted())")
        let identities = try s.targetIdentities()
        for username in Scenario.movable {
            let user = try #require(users[username])
            let person = try #require(s.people[username])
            #expect(user.attribute("custom:stable_id") == person.uuidString.lowercased(), "\(username)")
            #expect(user.status == .forceChangePassword, "created by an administrator, no password sent")
            let sub = try #require(user.attribute("sub"))
            let linked = try #require(identities[sub], "\(username) is linked")
            #expect(linked.person == person && linked.campaign == campaignID)
            #expect(linked.via == "passwordless", "\(username): \(linked.via)")
        }
        #expect(users["u4"]?.attribute("given_name") == "Given u4" && users["u4"]?.attribute("email_verified") == "true")
        #expect(users["phil"]?.attribute("phone_number_verified") == "true")
        #expect(users["vera"]?.attribute("email_verified") == "false", "SMS_OTP lets vera in by her verified phone")
        #expect(try s.db.count("finalize_users", where: "state = 'created'") == Scenario.movable.count)
        #expect(
            try s.db.count("events", where: "kind = 'identity_linked' AND details->>'via' = 'passwordless'") == Scenario.movable.count)
        #expect(try s.db.count("events", where: "kind = 'campaign_finalize_completed' AND (details->>'adopted')::int = 1") == 1)

        // Again: everyone is in the target now; nothing is created twice.
        let (again, againReport) = try s.finalize(["--mode", "passwordless"])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(againReport["created"] as? Int == 0 && againReport["adopted"] as? Int == 0, "\(again.stdout)")
        #expect((againReport["skipped"] as? [String: Int])?["already_in_target"] == Scenario.movable.count)
        #expect(try await s.targetUsers().count == users.count)
    }

    @Test("refusals: no reconciliation yet, a campaign without a stable-ID attribute, bad combinations of options")
    func refusals() async throws {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let source = try await client.createUserPool(name: "fin-r-old-\(suffix)")
        let target = try await client.createUserPool(name: "fin-r-new-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")])
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in [source, target] { #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0) }
        #expect(
            try CLI.run(
                [
                    "campaign", "create", "--source", source, "--target", target, "--name", "r-\(suffix)", "--stable-id-attribute",
                    "custom:stable_id",
                ], environment: env
            ).status == 0)
        let unreconciled = try CLI.run(["campaign", "finalize", "r-\(suffix)", "--mode", "invite"], environment: env)
        #expect(unreconciled.status == 2 && unreconciled.stderr.contains("stableid reconcile --campaign"), "\(unreconciled.stderr)")
        for bad in [
            ["--mode", "csv"], ["--mode", "csv", "--out", "/tmp", "--resume"], ["--mode", "invite", "--out", "/tmp"],
            ["--mode", "passwordless", "--resend"], ["--mode", "invite", "--limit", "0"], ["--mode", "sometimes"],
            ["--mode", "csv", "--out", "/tmp", "--file-format", "csv"], ["--mode", "invite", "--older-than", "7d"],
            ["--mode", "invite", "--resend", "--older-than", "a week"], ["--mode", "invite", "--assume-passwordless-pool"],
        ] {
            #expect(try CLI.run(["campaign", "finalize", "r-\(suffix)"] + bad, environment: env).status == 2, "\(bad)")
        }
        #expect(try db.count("finalize_users") == 0)
        #expect(try db.rows("SELECT phase FROM campaigns")[0].decode("phase", as: String.self) == "lazy")
    }
}
