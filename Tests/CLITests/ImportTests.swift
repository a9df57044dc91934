import Cognito
import Foundation
import Postgres
import TestSupport
import Testing

@Suite("stableid import", .timeLimit(.minutes(5)))
struct ImportTests {
    static func moto() throws -> CognitoClient {
        guard let endpoint = ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"], !endpoint.isEmpty else {
            throw MissingEnvironment(message: "AWS_ENDPOINT_URL is not set: run the tests through scripts/test, which starts moto")
        }
        let fast = Dictionary(uniqueKeysWithValues: QuotaCategory.allCases.map { ($0, 10_000.0) })
        return CognitoClient(
            configuration: CognitoConfiguration(region: "us-east-1", endpoint: endpoint, rates: fast),
            credentials: EnvironmentCredentials(environment: ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"])
        )
    }

    /// The identities as a comparable list.
    static func map(_ db: TestDatabase, withUserIDs: Bool) throws -> [String] {
        try db.rows(
            """
            SELECT i.pool_id, i.sub, i.username, coalesce(i.email, '') AS email, i.email_verified::text AS verified, i.provider, i.status,
                   i.user_id::text AS user_id
            FROM identities i ORDER BY i.sub
            """
        ).map { row in
            let parts: [String] = try ["pool_id", "sub", "username", "email", "verified", "provider", "status"].map { try row.decode($0) }
            return (parts + (withUserIDs ? [try row.decode("user_id", as: String.self)] : [])).joined(separator: "|")
        }
    }

    @Test("live and file imports give the same map; a second run creates nothing; reuse-sub keeps the legacy sub as ID")
    func liveEqualsFile() async throws {
        let client = try Self.moto()
        let pool = try await client.createUserPool(name: "import-\(UUID().uuidString.prefix(8))")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<130 {
                // At most 8 in flight (the client's handles): a create queued behind the others
                // could time out after moto made the user, and its retry would find it taken.
                if i >= 8 { try await group.next() }
                group.addTask {
                    _ = try await client.createTestUser(
                        poolID: pool, username: "user\(i)",
                        attributes: [
                            AttributeType("email", "User\(i)@Example.com"), AttributeType("email_verified", i % 3 == 0 ? "true" : "false"),
                        ]
                    )
                }
            }
            try await group.waitForAll()
        }
        try await client.adminDisableUser(poolID: pool, username: "user5")
        // What `aws cognito-idp list-users` prints, one document per page.
        try await withTemporaryDirectory("import-list-users") { dir in
            let file = dir.appendingPathComponent("list-users.json")
            var text = ""
            for try await page in client.listUsers(poolID: pool) {
                text += String(decoding: try JSONEncoder().encode(["Users": page.Users]), as: UTF8.self) + "\n"
            }
            try text.write(to: file, atomically: true, encoding: .utf8)

            let live = try await TestDatabase.make()
            let fromFile = try await TestDatabase.make()
            for db in [live, fromFile] {
                #expect(try CLI.run(["pool", "add", "--id", pool], environment: ["DATABASE_URL": db.url]).status == 0)
            }
            let first = try CLI.run(
                ["import", "--pool", pool, "--reuse-sub-as-user-id", "--format", "json"], environment: ["DATABASE_URL": live.url])
            #expect(first.status == 0, "\(first.stderr)")
            let report = try #require(try JSONSerialization.jsonObject(with: Data(first.stdout.utf8)) as? [String: Any])
            #expect(report["created"] as? Int == 130 && report["seen"] as? Int == 130)
            let again = try CLI.run(
                ["import", "--pool", pool, "--reuse-sub-as-user-id", "--format", "json"], environment: ["DATABASE_URL": live.url])
            #expect(again.stdout.contains(#""already_mapped":130"#) && again.stdout.contains(#""created":0"#))
            let viaFile = try CLI.run(
                ["import", "--pool", pool, "--file", file.path, "--reuse-sub-as-user-id"], environment: ["DATABASE_URL": fromFile.url])
            #expect(viaFile.status == 0, "\(viaFile.stderr)")

            #expect(try Self.map(live, withUserIDs: true) == Self.map(fromFile, withUserIDs: true))
            #expect(try live.count("identities") == 130)
            #expect(try live.count("identities", where: "status = 'disabled'") == 1)
            #expect(try live.count("users", where: "id::text IN (SELECT sub FROM identities)") == 130)
            #expect(try live.count("events", where: "kind = 'user_created'") == 130)
            #expect(try live.count("events", where: "kind = 'identity_linked'") == 130)
            #expect(try live.count("events", where: "kind = 'import_completed'") == 2)
            #expect(try live.count("identities", where: "email_normalized = 'user7@example.com'") == 1)
        }
    }

    @Test("federated provider, duplicates, conflicts and invalid records; dry run writes nothing; exit 1 on problems")
    func problemsAndDryRun() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Files"], environment: env).status == 0)
        // An identity already in the map holds the username "taken".
        let existing = try db.connect()
        try existing.execute("INSERT INTO users (id) VALUES ('11111111-1111-4111-8111-111111111111')")
        try existing.execute(
            "INSERT INTO identities (user_id, pool_id, sub, username) VALUES ('11111111-1111-4111-8111-111111111111', 'us-east-1_Files', 'old-sub', 'taken')"
        )
        let users: [[String: Any]] = [
            [
                "Username": "Google_1234", "Enabled": true,
                "Attributes": [
                    ["Name": "sub", "Value": "aaaaaaaa-0000-4000-8000-000000000001"],
                    ["Name": "identities", "Value": #"[{"userId":"1234","providerName":"Google","providerType":"Google"}]"#],
                    ["Name": "email", "Value": "fed@example.com"], ["Name": "email_verified", "Value": "true"],
                ],
            ],
            ["Username": "Google_1234-again", "Attributes": [["Name": "sub", "Value": "aaaaaaaa-0000-4000-8000-000000000001"]]],
            ["Username": "taken", "Attributes": [["Name": "sub", "Value": "aaaaaaaa-0000-4000-8000-000000000002"]]],
            ["Username": "not-a-uuid-sub", "Attributes": [["Name": "sub", "Value": "legacy-123"]]],
            ["Username": "fine", "Attributes": [["Name": "sub", "Value": "aaaaaaaa-0000-4000-8000-000000000003"]]],
        ]
        try await withTemporaryDirectory("import-problems") { dir in
            let file = dir.appendingPathComponent("problems.json")
            try JSONSerialization.data(withJSONObject: ["Users": users]).write(to: file)

            let dry = try CLI.run(
                ["import", "--pool", "us-east-1_Files", "--file", file.path, "--reuse-sub-as-user-id", "--dry-run", "--format", "json"],
                environment: env)
            #expect(dry.status == 1)
            let dryReport = try #require(try JSONSerialization.jsonObject(with: Data(dry.stdout.utf8)) as? [String: Any])
            #expect(dryReport["created"] as? Int == 2 && dryReport["duplicates"] as? Int == 1)
            #expect(dryReport["conflicting"] as? Int == 1 && dryReport["invalid"] as? Int == 1 && dryReport["dry_run"] as? Bool == true)
            #expect(try db.count("identities") == 1)
            #expect(try db.count("import_staging") == 0)

            let real = try CLI.run(
                ["import", "--pool", "us-east-1_Files", "--file", file.path, "--reuse-sub-as-user-id", "--format", "json"], environment: env
            )
            #expect(real.status == 1)
            #expect(try db.count("identities") == 3)
            let federated = try db.rows(
                "SELECT provider, email_verified::text AS v FROM identities WHERE sub = 'aaaaaaaa-0000-4000-8000-000000000001'")
            #expect(try federated[0].decode("provider", as: String.self) == "Google")
            #expect(try federated[0].decode("v", as: String.self) == "true")
            #expect(try db.count("event_personal_data", where: "data->>'email' = 'fed@example.com'") == 1)
            #expect(try db.count("events", where: "kind = 'import_completed' AND (details->>'conflicting')::int = 1") == 1)
        }
    }

    @Test("an AWS CLI v2 file (ISO 8601 dates, the CLI's default) imports; a bad date names the field and the place (exit 2)")
    func cliV2File() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Vtwo"], environment: env).status == 0)
        let v2 = """
            {
                "Users": [
                    {
                        "Username": "alice",
                        "Attributes": [
                            {"Name": "sub", "Value": "aaaaaaaa-0000-4000-8000-0000000000a1"},
                            {"Name": "email", "Value": "alice@example.com"}
                        ],
                        "UserCreateDate": "2026-11-20T10:11:12.345000+00:00",
                        "UserLastModifiedDate": "2026-11-20 10:11:12.345000+00:00",
                        "Enabled": true,
                        "UserStatus": "CONFIRMED"
                    }
                ]
            }
            """
        try await withTemporaryDirectory("import-v2") { dir in
            let file = dir.appendingPathComponent("v2.json")
            try v2.write(to: file, atomically: true, encoding: .utf8)
            let imported = try CLI.run(["import", "--pool", "us-east-1_Vtwo", "--file", file.path], environment: env)
            #expect(imported.status == 0, "\(imported.stderr)")
            #expect(try db.count("identities", where: "email = 'alice@example.com'") == 1)

            let bad = dir.appendingPathComponent("v2-bad.json")
            try v2.replacingOccurrences(of: #""UserCreateDate": "2026-11-20T10:11:12.345000+00:00""#, with: #""UserCreateDate": true"#)
                .write(to: bad, atomically: true, encoding: .utf8)
            let refused = try CLI.run(["import", "--pool", "us-east-1_Vtwo", "--file", bad.path], environment: env)
            #expect(refused.status == 2)
            #expect(refused.stderr.contains("UserCreateDate at byte"))
            #expect(refused.stderr.contains("(line 9, column 31): expected a number or a date string"))
        }
    }

    @Test("bad input: unknown pool, missing or malformed file exit 2 and write nothing")
    func badInput() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["import", "--pool", "us-east-1_Unregistered", "--file", "/dev/null"], environment: env).status == 2)
        #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Files"], environment: env).status == 0)
        #expect(try CLI.run(["import", "--pool", "us-east-1_Files", "--file", "/nonexistent.json"], environment: env).status == 2)
        try await withTemporaryDirectory("import-bad-input") { dir in
            let broken = dir.appendingPathComponent("broken.json")
            try #"{"Users": [{"Username": "a", "Attributes": [{"Name": "sub", "Value": "s"}]}, {"Username": "#.write(
                to: broken, atomically: true, encoding: .utf8)
            let result = try CLI.run(["import", "--pool", "us-east-1_Files", "--file", broken.path], environment: env)
            #expect(result.status == 2)
            #expect(
                result.stderr.contains("Username at byte 90 (line 1, column 91): the file ends before the JSON does"), "\(result.stderr)")
            #expect(try db.count("identities") == 0)
            // Broken after the first 5,000-user chunk was staged: the staged rows go too.
            let late = dir.appendingPathComponent("late.json")
            let many = (0..<6_000).map { #"{"Username":"u\#($0)","Attributes":[{"Name":"sub","Value":"s\#($0)"}]}"# }.joined(separator: ",")
            try (#"{"Users": ["# + many + #", {"Username": "#).write(to: late, atomically: true, encoding: .utf8)
            #expect(try CLI.run(["import", "--pool", "us-east-1_Files", "--file", late.path], environment: env).status == 2)
            #expect(try db.count("import_staging") == 0)
            #expect(try db.count("identities") == 0)
            #expect(try CLI.run(["import", "--pool", "not-a-pool"], environment: env).status == 2)
        }
    }
}
