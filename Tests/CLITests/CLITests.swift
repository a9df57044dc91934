import Foundation
import IdentityMap
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite("stableid command line", .timeLimit(.minutes(5)))
struct CLITests {
    @Test("db migrate applies once, then is a no-op; db status reports up to date")
    func migrate() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let first = try CLI.run(["db", "migrate", "--database-url", db.url])
        #expect(first.status == 0, "\(first.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: TestDatabase.sqlDirectory.path).filter { $0.hasSuffix(".sql") }
        #expect(first.stdout.contains("applied \(files.count) migration"))
        let second = try CLI.run(["db", "migrate", "--database-url", db.url])
        #expect(second.status == 0 && second.stdout.contains("up to date"))
        #expect(try CLI.run(["db", "status", "--database-url", db.url]).status == 0)
    }

    @Test("serve refuses to start while migrations are pending (exit 2)")
    func serveRefusesPending() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let result = try CLI.run(["serve", "--port", "0"], environment: ["DATABASE_URL": db.url])
        #expect(result.status == 2)
        #expect(result.stderr.contains("stableid db migrate"))
        #expect(try CLI.run(["db", "status", "--database-url", db.url]).status == 1)
        // A malformed setting is a configuration error, never silently replaced by its default.
        for (name, value) in [
            ("STABLEID_DB_POOL_SIZE", "lots"), ("STABLEID_STATEMENT_TIMEOUT_MS", "-1"), ("STABLEID_RESOLVE_BATCHES", "0"),
            ("STABLEID_CHANGES_READ_AHEAD", "yes"), ("STABLEID_LOOKUP_CACHE", "maybe"), ("STABLEID_REPORT_SECURE_COOKIES", "true"),
        ] {
            let bad = try CLI.run(["serve", "--port", "0"], environment: ["DATABASE_URL": db.url, name: value])
            #expect(bad.status == 2 && bad.stderr.contains(name), "\(name)=\(value): \(bad.stderr)")
        }
    }

    @Test(
        "serve refuses a webhook lease shorter than 2 × the attempt timeout + 3 s (exit 2, both variables named); the shortest allowed passes"
    )
    func serveRefusesShortWebhookLease() async throws {
        let db = try await TestDatabase.make(migrated: false)
        // Settings are read before the database is opened: a refused one exits before the
        // pending migrations would; an accepted one reaches them.
        let refusedSettings: [(lease: String?, timeout: String?)] = [("4", "1"), ("20", nil), (nil, "14"), ("30", "14")]
        for (lease, timeout) in refusedSettings {
            var environment = ["DATABASE_URL": db.url]
            environment["STABLEID_WEBHOOK_LEASE_S"] = lease
            environment["STABLEID_WEBHOOK_TIMEOUT_S"] = timeout
            let refused = try CLI.run(["serve", "--port", "0"], environment: environment)
            #expect(refused.status == 2, "lease \(lease ?? "-") timeout \(timeout ?? "-"): \(refused.stderr)")
            #expect(
                refused.stderr.contains("STABLEID_WEBHOOK_LEASE_S") && refused.stderr.contains("STABLEID_WEBHOOK_TIMEOUT_S"),
                "\(refused.stderr)")
            #expect(!refused.stderr.contains("stableid db migrate"), "\(refused.stderr)")
        }
        let minimum = try CLI.run(
            ["serve", "--port", "0"],
            environment: ["DATABASE_URL": db.url, "STABLEID_WEBHOOK_LEASE_S": "5", "STABLEID_WEBHOOK_TIMEOUT_S": "1"])
        #expect(minimum.status == 2 && minimum.stderr.contains("stableid db migrate"), "\(minimum.stderr)")
        #expect(!minimum.stderr.contains("STABLEID_WEBHOOK_LEASE_S"), "\(minimum.stderr)")
    }

    @Test("token create prints the token alone on the last line; list never shows it; revoke twice fails with 2")
    func tokens() async throws {
        let db = try await TestDatabase.make()
        let created = try CLI.run(
            ["token", "create", "--name", "ci", "--scope", "resolve", "--scope", "audit"], environment: ["DATABASE_URL": db.url])
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.lastLine.hasPrefix("sid_") && created.lastLine.count == 55)
        #expect(TokenSecret(created.lastLine).shape(key: try await TokenStore(database: db.database).checksumKey()) == .checksummed)
        let listed = try CLI.run(["token", "list", "--format", "json"], environment: ["DATABASE_URL": db.url])
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: String]])
        #expect(rows.count == 1 && rows[0]["name"] == "ci" && rows[0]["scopes"] == "resolve audit")
        #expect(!listed.stdout.contains(created.lastLine))
        #expect(try CLI.run(["token", "revoke", "ci"], environment: ["DATABASE_URL": db.url]).status == 0)
        let again = try CLI.run(["token", "revoke", "ci"], environment: ["DATABASE_URL": db.url])
        #expect(again.status == 2 && again.stderr.contains("no active token"))
        let badScope = try CLI.run(["token", "create", "--name", "x", "--scope", "root"], environment: ["DATABASE_URL": db.url])
        #expect(badScope.status == 2)
    }

    @Test(
        "token create --pool binds a trigger token; refused (2) without the trigger scope or for an unknown pool; list flags unbound trigger tokens"
    )
    func triggerTokenPools() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", "eu-central-1_Bound"], environment: env).status == 0)
        let bound = try CLI.run(
            ["token", "create", "--name", "fwd", "--scope", "trigger", "--pool", "eu-central-1_Bound"], environment: env)
        #expect(
            bound.status == 0 && bound.stderr.contains("for pools eu-central-1_Bound") && !bound.stderr.contains("warning"),
            "\(bound.stderr)")
        let unbound = try CLI.run(["token", "create", "--name", "fwd-any", "--scope", "trigger"], environment: env)
        #expect(
            unbound.status == 0 && unbound.stderr.contains("warning: fwd-any may send trigger events for every pool"), "\(unbound.stderr)")
        let noTrigger = try CLI.run(
            ["token", "create", "--name", "r", "--scope", "resolve", "--pool", "eu-central-1_Bound"], environment: env)
        #expect(
            noTrigger.status == 2 && noTrigger.stderr.contains("--pool binds a token whose only scope is trigger"), "\(noTrigger.stderr)")
        // A bound token's binding limits trigger events only: it may have no other scope.
        let mixed = try CLI.run(
            ["token", "create", "--name", "m", "--scope", "trigger", "--scope", "write", "--pool", "eu-central-1_Bound"], environment: env)
        #expect(mixed.status == 2 && mixed.stderr.contains("only scope is trigger"), "\(mixed.stderr)")
        let unknown = try CLI.run(
            ["token", "create", "--name", "u", "--scope", "trigger", "--pool", "eu-central-1_Missing"], environment: env)
        #expect(unknown.status == 2 && unknown.stderr.contains("eu-central-1_Missing is not registered"), "\(unknown.stderr)")
        #expect(
            try CLI.run(["token", "create", "--name", "m", "--scope", "trigger", "--pool", "not a pool"], environment: env).status == 2)

        let json = try CLI.run(["token", "list", "--format", "json"], environment: env)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: String]])
        #expect(rows.first { $0["name"] == "fwd" }?["pools"] == "eu-central-1_Bound")
        #expect(rows.first { $0["name"] == "fwd-any" }?["pools"] == "*")
        #expect(rows.count == 2)
        #expect(json.stderr.contains("warning") && json.stderr.contains("fwd-any") && !json.stderr.contains("fwd,"))
        let table = try CLI.run(["token", "list"], environment: env)
        #expect(table.stdout.hasPrefix("ID") && table.stdout.contains("POOLS") && table.stdout.contains("*"))
        #expect(table.stderr.contains("warning") && table.stderr.contains("fwd-any"))

        // --help lists every scope.
        let help = try CLI.run(["token", "create", "--help"])
        for scope in Scope.allCases { #expect(help.stdout.contains(scope.rawValue), "\(scope)") }
    }

    @Test("pool add defaults the region from the id; bad ids and duplicates exit 2; list formats")
    func pools() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", "eu-central-1_Abc", "--name", "Frankfurt"], environment: env).status == 0)
        #expect(try CLI.run(["pool", "add", "--id", "eu-central-1_Abc"], environment: env).status == 2)
        #expect(try CLI.run(["pool", "add", "--id", "not a pool"], environment: env).status == 2)
        let csv = try CLI.run(["pool", "list", "--format", "csv"], environment: env)
        #expect(
            csv.stdout.hasPrefix(
                "id,region,name,issuer,created_at,role_arn,aws_profile,token_client_ids\neu-central-1_Abc,eu-central-1,Frankfurt,https://cognito-idp.eu-central-1.amazonaws.com/eu-central-1_Abc,"
            ))
        // A pool in another account: reached with a role (and external id); bad ARNs exit 2.
        let role = "arn:aws:iam::210987654321:role/stableid-reader"
        #expect(
            try CLI.run(["pool", "add", "--id", "eu-west-3_Other", "--role-arn", role, "--external-id", "ext-42"], environment: env).status
                == 0
        )
        #expect(try CLI.run(["pool", "add", "--id", "eu-west-3_Bad", "--role-arn", "not-an-arn"], environment: env).status == 2)
        #expect(try CLI.run(["pool", "add", "--id", "eu-west-3_Bad", "--external-id", "ext-42"], environment: env).status == 2)
        let listed = try CLI.run(["pool", "list", "--format", "csv"], environment: env).stdout
        #expect(listed.contains("eu-west-3_Other") && listed.contains(role) && !listed.contains("ext-42"))
        let table = try CLI.run(["pool", "list"], environment: env)
        #expect(table.stdout.hasPrefix("ID"))

        // The app clients whose tokens POST /v1/resolve/token accepts: named at add, changed after.
        let add = ["pool", "add", "--id", "eu-west-2_Tok", "--token-client-id", "web", "--token-client-id", "ios"]
        #expect(try CLI.run(add, environment: env).status == 0)
        func tokenClients() throws -> String? {
            let rows = try CLI.run(["pool", "list", "--format", "json"], environment: env).stdout
            let pools = try JSONSerialization.jsonObject(with: Data(rows.utf8)) as? [[String: String]]
            return pools?.first { $0["id"] == "eu-west-2_Tok" }?["token_client_ids"]
        }
        #expect(try tokenClients() == "ios,web")
        let update = ["pool", "update", "--id", "eu-west-2_Tok"]
        #expect(try CLI.run(update + ["--token-client-id", "android"], environment: env).status == 0)
        #expect(try tokenClients() == "android")
        #expect(try CLI.run(update + ["--any-token-client"], environment: env).status == 0)
        #expect(try tokenClients() == "")
        #expect(try CLI.run(update, environment: env).status == 2)
        #expect(try CLI.run(update + ["--any-token-client", "--token-client-id", "web"], environment: env).status == 2)
        #expect(try CLI.run(update + ["--token-client-id", "not a client"], environment: env).status == 2)
        #expect(try CLI.run(["pool", "update", "--id", "eu-west-2_None", "--any-token-client"], environment: env).status == 2)
    }

    @Test("campaign create prints its id on the last line; list and show; a second active campaign for the target exits 2")
    func campaigns() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in ["us-east-1_Src1", "us-east-1_Src2", "eu-west-1_Dst"] {
            #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)
        }
        let created = try await withTemporaryDirectory("client-secret") { dir in
            let secretFile = dir.appendingPathComponent("client-secret")
            try "s3cr3t-client-secret\n".write(to: secretFile, atomically: true, encoding: .utf8)
            return try CLI.run(
                [
                    "campaign", "create", "--source", "us-east-1_Src1", "--source", "us-east-1_Src2", "--target", "eu-west-1_Dst",
                    "--name", "consolidate", "--source-client-id", "us-east-1_Src1=client1", "--source-client-id", "us-east-1_Src2=client2",
                    "--source-client-secret-file", secretFile.path, "--stable-id-attribute", "custom:stable_id",
                    "--link-by", "username", "--link-by", "verified-email",
                ],
                environment: env
            )
        }
        #expect(created.status == 0, "\(created.stderr)")
        let id = created.lastLine
        #expect(UUID(uuidString: id) != nil)
        let listed = try CLI.run(["campaign", "list", "--format", "json"], environment: env)
        let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: String]])
        #expect(rows.count == 1 && rows[0]["id"] == id && rows[0]["target"] == "eu-west-1_Dst" && rows[0]["phase"] == "lazy")
        #expect(rows[0]["sources"] == "us-east-1_Src1 us-east-1_Src2" && rows[0]["link_by"] == "username verified-email")
        #expect(!listed.stdout.contains("s3cr3t"))
        #expect(try CLI.run(["campaign", "show", "consolidate"], environment: env).stdout.contains(id))
        let second = try CLI.run(["campaign", "create", "--source", "us-east-1_Src1", "--target", "eu-west-1_Dst"], environment: env)
        #expect(second.status == 2 && second.stderr.contains("already the target"))
        #expect(
            try CLI.run(
                ["campaign", "create", "--source", "us-east-1_Src1", "--target", "eu-west-1_Dst", "--link-by", "phone"], environment: env
            ).status == 2)
        #expect(try CLI.run(["campaign", "phase", id, "done"], environment: env).status == 0)
        #expect(
            try CLI.run(["campaign", "create", "--source", "us-east-1_Src1", "--target", "eu-west-1_Dst"], environment: env).status == 0)
        // Every change is an event; the secret never is.
        #expect(try db.count("events", where: "kind = 'campaign_created'") == 2)
        #expect(try db.count("events", where: "kind = 'campaign_phase_changed'") == 1)
        #expect(try db.count("events", where: "details::text LIKE '%s3cr3t%'") == 0)
    }

    @Test("audit: keys are created 0600 and never overwritten; a checkpoint needs a trusted key; stale unsealed events fail verify")
    func auditTrust() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        try await withTemporaryDirectory("audit") { dir in
            let keyPath = dir.appendingPathComponent("audit.key").path
            let keygen = try CLI.run(["audit", "keygen", "--out", keyPath], environment: env)
            #expect(keygen.status == 0)
            let mode = try FileManager.default.attributesOfItem(atPath: keyPath)[.posixPermissions] as? Int
            #expect(mode == 0o600)
            #expect(try CLI.run(["audit", "keygen", "--out", keyPath], environment: env).status == 2)
            #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Audit"], environment: env).status == 0)
            // The pool's event is committed but nobody sealed it: with no tolerance, verify fails.
            #expect(try CLI.run(["audit", "verify", "--max-pending-age", "0"], environment: env).status == 1)
            let checkpointPath = dir.appendingPathComponent("checkpoint.json").path
            #expect(try CLI.run(["audit", "checkpoint", "--key", keyPath, "--out", checkpointPath], environment: env).status == 0)
            // A checkpoint checked against no key proves nothing: refused.
            let untrusted = try CLI.run(["audit", "verify", "--checkpoint", checkpointPath], environment: env)
            #expect(untrusted.status == 2 && untrusted.stderr.contains("--public-key"))
            let verified = try CLI.run(
                ["audit", "verify", "--checkpoint", checkpointPath, "--public-key", keygen.lastLine, "--max-pending-age", "0"],
                environment: env
            )
            #expect(verified.status == 0, "\(verified.stdout) \(verified.stderr)")

            // The same check offline: an export with chain positions against the checkpoint, no database.
            let exported = try CLI.run(["audit", "export", "--chain"], environment: env)
            #expect(exported.status == 0 && exported.stdout.contains("\"chain\":{"))
            let exportPath = dir.appendingPathComponent("export.ndjson").path
            try Data(exported.stdout.utf8).write(to: URL(fileURLWithPath: exportPath))
            let offline = ["audit", "verify", "--file", exportPath, "--checkpoint", checkpointPath, "--public-key", keygen.lastLine]
            let intact = try CLI.run(offline, environment: ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"])
            #expect(intact.status == 0 && intact.stdout.contains("1 anchored by 1 checkpoint"), "\(intact.stdout) \(intact.stderr)")
            try Data(exported.stdout.replacingOccurrences(of: "us-east-1_Audit", with: "us-east-1_Forged").utf8).write(
                to: URL(fileURLWithPath: exportPath))
            let broken = try CLI.run(offline, environment: env)
            #expect(broken.status == 1 && broken.stdout.contains("modified"), "\(broken.stdout)")
            #expect(try CLI.run(["audit", "verify", "--file", exportPath, "--checkpoint", checkpointPath], environment: env).status == 2)
            #expect(try CLI.run(["audit", "verify", "--file", exportPath, "--state"], environment: env).status == 2)
        }
    }

    @Test("user unmerge undoes a merge, and refuses (exit 2) what is not merged")
    func unmergeAndMergeScope() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        let a = UUID(), b = UUID()
        let store = IdentityMapStore(database: db.database)
        _ = try await PoolStore(database: db.database).add(id: PoolID("us-east-1_Um")!, attribution: .init(actor: .system)).run(
            on: db.database)
        for (id, sub) in [(a, testSub("um-a")), (b, testSub("um-b"))] {
            _ = try await store.createUser(
                id: id, identities: [try NewIdentity(pool: PoolID("us-east-1_Um")!, sub: sub, username: "u-\(sub.prefix(6))")],
                attribution: .init(actor: .system)
            ).run(on: db.database)
        }
        _ = try await store.merge(a, into: b, attribution: .init(actor: .system)).run(on: db.database)
        let undone = try CLI.run(["user", "unmerge", a.uuidString], environment: env)
        #expect(undone.status == 0, "\(undone.stderr)")
        #expect(try await store.resolve(.pool(PoolID("us-east-1_Um")!, sub: testSub("um-a")))?.userID == a)
        #expect(try CLI.run(["user", "unmerge", a.uuidString], environment: env).status == 2)
    }

    @Test("usage errors exit 2; an unreachable database exits 3")
    func exitCodes() throws {
        #expect(try CLI.run(["frobnicate"]).status == 2)
        #expect(try CLI.run(["token", "create"]).status == 2)
        #expect(try CLI.run(["--help"]).status == 0)
        let down = try CLI.run(["pool", "list", "--database-url", "postgresql://postgres@127.0.0.1:1/none"])
        #expect(down.status == 3)
        #expect(down.stderr.contains("database unavailable"))
    }

    @Test("serve end to end as a stableid_service member: JSON logs, real HTTP, graceful stop on SIGTERM, no secret in logs")
    func serveEndToEnd() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        // Migrations and admin commands run as the owner; the service logs in with the least
        // privilege the role split gives it.
        let serviceURL = try db.serviceRoleURL()
        let token = try CLI.run(["token", "create", "--name", "e2e", "--scope", "write", "--scope", "resolve"], environment: env).lastLine
        #expect(try CLI.run(["pool", "add", "--id", "us-east-1_E2e"], environment: env).status == 0)
        let port = try CLI.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLI.binary)
        process.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = serviceURL
        environment["STABLEID_SQL_DIR"] = TestDatabase.sqlDirectory.path
        environment["STABLEID_LISTEN"] = "127.0.0.1:\(port)"
        environment["STABLEID_LOG_FORMAT"] = "json"
        environment["STABLEID_LOG_LEVEL"] = "debug"
        // The drain period has a test of its own (DrainTests); here it only has to end.
        environment["STABLEID_DRAIN_SECONDS"] = "1"
        process.environment = environment
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let base = "http://127.0.0.1:\(port)"
        var ready = false
        for _ in 0..<100 where !ready {
            ready = (try? await CLI.http("GET", "\(base)/readyz").0) == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(ready)
        let (created, body) = try await CLI.http(
            "POST", "\(base)/v1/users", token: token,
            body: #"{"identities":[{"pool":"us-east-1_E2e","sub":"5e2e5e2e-0000-4000-8000-00000000e2e0","username":"e2e"}]}"#)
        #expect(created == 201, "\(body)")
        let (resolved, answer) = try await CLI.http(
            "GET", "\(base)/v1/resolve?pool=us-east-1_E2e&sub=5e2e5e2e-0000-4000-8000-00000000e2e0", token: token)
        #expect(resolved == 200 && answer.contains("user_id"))
        #expect(try await CLI.http("GET", "\(base)/v1/resolve?pool=us-east-1_E2e&sub=5e2e5e2e-0000-4000-8000-00000000e2e0").0 == 401)

        // The Lambda forwarder (deploy/lambda) against this running service: a post-confirmation
        // event for a sub the map does not know creates its person; the answer is the event.
        let triggerToken = try CLI.run(["token", "create", "--name", "lambda", "--scope", "trigger"], environment: env).lastLine
        let newSub = "5e2e5e2e-0000-4000-8000-00000000e2e1"
        let forwarded = try CLI.runProcess(
            "/usr/bin/env",
            [
                "python3", "-c",
                """
                import json, sys
                sys.path.insert(0, "\(CLI.repositoryRoot)/deploy/lambda")
                import forwarder
                event = {"version": "1", "triggerSource": "PostConfirmation_ConfirmSignUp", "region": "us-east-1",
                         "userPoolId": "us-east-1_E2e", "userName": "fresh", "callerContext": {},
                         "request": {"userAttributes": {"sub": "\(newSub)", "email": "fresh@example.com"}}, "response": {}}
                print(json.dumps(forwarder.handler(event, None)))
                """,
            ],
            environment: ["STABLEID_URL": base, "STABLEID_TOKEN": triggerToken]
        )
        #expect(forwarded.status == 0, "\(forwarded.stderr)")
        #expect(forwarded.stdout.contains("PostConfirmation_ConfirmSignUp"))
        let (linked, _) = try await CLI.http("GET", "\(base)/v1/resolve?pool=us-east-1_E2e&sub=\(newSub)", token: token)
        #expect(linked == 200)

        // The sealer, running as the service role, seals that write's events into the chain.
        var pending = -1
        for _ in 0..<50 where pending != 0 {
            pending = try db.count("event_pending")
            if pending != 0 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(pending == 0)
        #expect(try db.count("event_chain") >= 3)

        process.terminate()  // SIGTERM
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let logs = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let lines = logs.split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            #expect((try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any], "not JSON: \(line)")
        }
        #expect(logs.contains("stableid serving"))
        #expect(!logs.contains(token))
    }
}
