import Cognito
import Foundation
import Postgres
import TestSupport
import Testing

/// The guards between a bad snapshot and a mass change by `reconcile --fix` (ReconcileFixer):
/// the share of a pool that `--fix orphaned` may mark deleted at once, identities changed since
/// the snapshot started (before the run, and while the fix itself runs), and target users whose
/// stable-ID attribute names a person another unmapped user names too.
///
/// The pools are read from list-users files the test writes, whose modification time is set to a
/// moment of the database's clock: a file run's snapshot starts then (ReconciliationRun+Staging),
/// so what counts as changed since is decided by the test, not by a race.
@Suite("stableid reconcile --fix: the guards", .timeLimit(.minutes(5)))
struct ReconcileFixGuardTests {
    static let pool = "us-east-1_Guard"

    static func sub(_ index: Int) -> String { testSub("guard-\(index)") }

    /// What `aws cognito-idp list-users` prints for users `guard<index>`, written to `dir`;
    /// modified at `modified` when given.
    static func userFile(_ indices: Range<Int>, named name: String, in dir: URL, modified: Date? = nil) throws -> String {
        let users: [[String: Any]] = indices.map { index in
            [
                "Username": "guard\(index)", "Enabled": true, "UserStatus": "CONFIRMED",
                "Attributes": [
                    ["Name": "sub", "Value": sub(index)], ["Name": "email", "Value": "guard\(index)@example.com"],
                    ["Name": "email_verified", "Value": "true"],
                ],
            ]
        }
        let file = dir.appendingPathComponent("\(name).json")
        try JSONSerialization.data(withJSONObject: ["Users": users]).write(to: file)
        if let modified { try FileManager.default.setAttributes([.modificationDate: modified], ofItemAtPath: file.path) }
        return file.path
    }

    /// The database's clock, which stamps `linked_at` and `updated_at`.
    static func databaseNow(_ db: TestDatabase) throws -> Date {
        try db.rows("SELECT clock_timestamp() AS now")[0].decode("now")
    }

    static func json(_ output: CLI.Output) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// `fixes.outcomes.<kind>` of a report: `["fixed": n, "skipped": m]`.
    static func outcome(_ report: [String: Any], _ kind: String) -> [String: Int]? {
        ((report["fixes"] as? [String: Any])?["outcomes"] as? [String: Any])?[kind] as? [String: Int]
    }

    static func status(_ db: TestDatabase, _ index: Int) throws -> String? {
        try db.rows("SELECT status FROM identities WHERE sub = \(sub(index))").first?.decode("status")
    }

    /// A registered pool with users `guard0` … `guard<count-1>` imported from a file.
    static func importedPool(_ count: Int, in dir: URL) async throws -> (TestDatabase, [String: String]) {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)
        let imported = try CLI.run(["import", "--pool", pool, "--file", try userFile(0..<count, named: "all", in: dir)], environment: env)
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try db.count("identities", where: "status = 'active'") == count)
        return (db, env)
    }

    @Test("--fix orphaned marks none deleted (and warns) when a file lacks more than a quarter of a pool; a smaller share is fixed")
    func orphanedShare() async throws {
        try await withTemporaryDirectory("fix-share") { dir in
            let (db, env) = try await Self.importedPool(48, in: dir)
            let snapshot = try Self.databaseNow(db)
            let fix = ["--pool", Self.pool, "--fix", "orphaned", "--apply", "--format", "json"]

            // A truncated export: half the users missing. 24 of 48 look orphaned; none may go.
            let half = try Self.userFile(0..<24, named: "half", in: dir, modified: snapshot)
            let heldBack = try CLI.run(["reconcile", "--file", "\(Self.pool)=\(half)"] + fix, environment: env)
            #expect(heldBack.status == 0, "\(heldBack.stderr)")
            let report = Self.json(heldBack)
            #expect(try db.count("findings", where: "kind = 'orphaned' AND state = 'open' AND sub IS NOT NULL") == 24)
            #expect(try db.count("identities", where: "status = 'deleted'") == 0, "a file missing half the pool deleted identities")
            #expect(try db.count("events", where: "kind = 'identity_status_changed'") == 0)
            #expect(Self.outcome(report, "orphaned") == ["fixed": 0, "skipped": 24], "\(heldBack.stdout)")
            let warnings = report["warnings"] as? [String] ?? []
            #expect(
                warnings.contains { $0.contains("24 of 48 live identities look orphaned") && $0.contains("none were marked deleted") },
                "\(warnings)")

            // `findings show`: one of them, with its evidence.
            let id: Int64 = try db.rows("SELECT id FROM findings WHERE kind = 'orphaned' AND sub = \(Self.sub(30))")[0].decode("id")
            let person: String = try db.rows("SELECT user_id::text AS id FROM identities WHERE sub = \(Self.sub(30))")[0].decode("id")
            let shown = try CLI.run(["findings", "show", "\(id)"], environment: env)
            #expect(shown.status == 0, "\(shown.stderr)")
            let finding = Self.json(shown)
            #expect((finding["id"] as? Int).map(Int64.init) == id, "\(shown.stdout)")
            #expect(finding["kind"] as? String == "orphaned" && finding["state"] as? String == "open")
            #expect(finding["pool"] as? String == Self.pool && finding["sub"] as? String == Self.sub(30))
            #expect(finding["user_id"] as? String == person)
            #expect((finding["evidence"] as? [String: Any])?["reason"] as? String == "not_in_pool", "\(shown.stdout)")
            let unknown = try CLI.run(["findings", "show", "\(id + 1_000_000)"], environment: env)
            #expect(unknown.status == 2 && unknown.stderr.contains("no finding"), "\(unknown.stderr)")

            // Eleven missing: more than the handful the share ignores, less than a quarter. Fixed.
            let most = try Self.userFile(0..<37, named: "most", in: dir, modified: snapshot)
            let fixed = try CLI.run(["reconcile", "--file", "\(Self.pool)=\(most)"] + fix, environment: env)
            #expect(fixed.status == 0, "\(fixed.stderr)")
            #expect(Self.outcome(Self.json(fixed), "orphaned") == ["fixed": 11, "skipped": 0], "\(fixed.stdout)")
            let deleted = try db.rows("SELECT username FROM identities WHERE status = 'deleted'")
            #expect(try Set(deleted.map { try $0.decode("username", as: String.self) }) == Set((37..<48).map { "guard\($0)" }))
            #expect(try db.count("events", where: "kind = 'identity_status_changed'") == 11)
        }
    }

    @Test("--fix orphaned leaves identities changed since the snapshot started: before the run, and while the fix runs")
    func changedSinceSnapshot() async throws {
        try await withTemporaryDirectory("fix-changed") { dir in
            let (db, env) = try await Self.importedPool(12, in: dir)
            let snapshot = try Self.databaseNow(db)
            // guard9, guard10 and guard11 are missing from the file.
            let file = try Self.userFile(0..<9, named: "snapshot", in: dir, modified: snapshot)
            // guard9 changed after the snapshot started, before the run (a trigger's write, say):
            // the snapshot cannot speak for it, so the run does not even judge it.
            try db.connect().execute("UPDATE identities SET updated_at = clock_timestamp() WHERE sub = \(Self.sub(9))")

            // guard10 changes between the classification and the fix: its row is held, the fix
            // queues behind it, and only then is it changed and let go. The fix's compare-and-set
            // must see the change.
            let holder = try db.connect()
            try holder.execute("BEGIN")
            try holder.execute("SELECT id FROM identities WHERE sub = \(Self.sub(10)) FOR NO KEY UPDATE")
            let holderPID: Int = try holder.query("SELECT pg_backend_pid() AS pid")[0].decode("pid")
            let run = try BackgroundCLI(
                ["reconcile", "--pool", Self.pool, "--file", "\(Self.pool)=\(file)", "--fix", "orphaned", "--apply", "--format", "json"],
                environment: env, in: dir)
            var blocked = ""
            let fixWaits = try await waitUntil(within: .seconds(45), every: .milliseconds(50)) {
                let rows = try db.rows("SELECT query FROM pg_stat_activity WHERE \(holderPID)::int = ANY(pg_blocking_pids(pid))")
                blocked = try rows.first?.decode("query", as: String.self) ?? ""
                return !rows.isEmpty || !run.isRunning
            }
            #expect(fixWaits && blocked.contains("SET status = 'deleted'"), "the fix never queued behind the held identity: \(blocked)")
            try holder.execute("UPDATE identities SET updated_at = clock_timestamp() WHERE sub = \(Self.sub(10))")
            try holder.execute("COMMIT")
            let output = try #require(try await run.finish(within: .seconds(120)), "reconcile did not end")
            #expect(output.status == 0, "\(output.stderr)")

            #expect(try Self.status(db, 11) == "deleted")
            #expect(try Self.status(db, 10) == "active", "the fix deleted an identity changed while it ran")
            #expect(try Self.status(db, 9) == "active")
            #expect(Self.outcome(Self.json(output), "orphaned") == ["fixed": 1, "skipped": 1], "\(output.stdout)")
            // guard10's finding stays open for the next run to judge afresh; guard9 has none.
            #expect(try db.count("findings", where: "sub = '\(Self.sub(10))' AND state = 'open'") == 1)
            #expect(try db.count("findings", where: "sub = '\(Self.sub(11))' AND state = 'resolved'") == 1)
            #expect(try db.count("findings", where: "sub = '\(Self.sub(9))'") == 0, "an identity changed since the snapshot was judged")
        }
    }

    @Test("--fix unmapped links no one when two target users name the same person, and still links the unambiguous one")
    func ambiguousUnmapped() async throws {
        let client = try ImportTests.moto()
        let suffix = UUID().uuidString.prefix(6)
        let source = try await client.createUserPool(name: "amb-old-\(suffix)")
        let target = try await client.createUserPool(name: "amb-new-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")])
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        for pool in [source, target] { #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0) }
        func create(_ pool: String, _ username: String, email: String, stableID: String? = nil) async throws -> String {
            var attributes = [AttributeType("email", email), AttributeType("email_verified", "true")]
            if let stableID { attributes.append(AttributeType("custom:stable_id", stableID)) }
            let user = try await client.createTestUser(poolID: pool, username: username, attributes: attributes)
            return try #require(user.attribute("sub"))
        }
        _ = try await create(source, "pat", email: "pat@example.com")
        _ = try await create(source, "quinn", email: "quinn@example.com")
        #expect(try CLI.run(["import", "--pool", source], environment: env).status == 0)
        func person(_ username: String) throws -> String {
            try db.rows("SELECT user_id::text AS id FROM identities WHERE pool_id = \(source) AND username = \(username)")[0].decode("id")
        }
        let (pat, quinn) = (try person("pat"), try person("quinn"))
        let created = try CLI.run(
            [
                "campaign", "create", "--source", source, "--target", target, "--name", "amb-\(suffix)", "--stable-id-attribute",
                "custom:stable_id",
            ],
            environment: env)
        #expect(created.status == 0, "\(created.stderr)")
        // Two target users claim pat, both with pat's verified email: which one is pat's account is
        // for a person to decide. quinn's claim is alone.
        let patFirst = try await create(target, "pat", email: "pat@example.com", stableID: pat)
        let patSecond = try await create(target, "pat-again", email: "pat@example.com", stableID: pat)
        let quinnNew = try await create(target, "quinn", email: "quinn@example.com", stableID: quinn)

        let run = try CLI.run(
            ["reconcile", "--campaign", "amb-\(suffix)", "--fix", "unmapped", "--apply", "--format", "json"], environment: env)
        #expect(run.status == 0, "\(run.stdout) \(run.stderr)")
        let report = Self.json(run)
        func owner(_ sub: String) throws -> String? {
            try db.rows("SELECT user_id::text AS id FROM identities WHERE pool_id = \(target) AND sub = \(sub)").first?.decode("id")
        }
        #expect(try owner(patFirst) == nil && owner(patSecond) == nil, "an ambiguous claim was linked")
        #expect(try owner(quinnNew) == quinn)
        #expect(Self.outcome(report, "unmapped") == ["fixed": 1, "skipped": 2], "\(run.stdout)")
        let warnings = report["warnings"] as? [String] ?? []
        #expect(warnings.contains { $0.contains("2 unmapped users of pool \(target) were not linked") }, "\(warnings)")
        #expect(
            try db.count("findings", where: "kind = 'unmapped' AND state = 'open' AND sub IN ('\(patFirst)', '\(patSecond)')") == 2)
    }
}

/// `stableid` started without waiting for it, its output in files (a pipe could fill up and
/// stall it); stopped at the latest by `deinit`.
private final class BackgroundCLI: @unchecked Sendable {
    let process = Process()
    let stdout: URL
    let stderr: URL

    init(_ arguments: [String], environment extra: [String: String], in directory: URL) throws {
        let name = UUID().uuidString
        stdout = directory.appendingPathComponent("\(name).out")
        stderr = directory.appendingPathComponent("\(name).err")
        for file in [stdout, stderr] { FileManager.default.createFile(atPath: file.path, contents: nil) }
        process.executableURL = URL(fileURLWithPath: try CLI.binary)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["STABLEID_SQL_DIR"] = TestDatabase.sqlDirectory.path
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardOutput = try FileHandle(forWritingTo: stdout)
        process.standardError = try FileHandle(forWritingTo: stderr)
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    var isRunning: Bool { process.isRunning }

    /// What it printed and its exit status once it has ended; nil (and it is stopped) when it
    /// still runs after `limit`.
    func finish(within limit: Duration) async throws -> CLI.Output? {
        guard try await waitUntil(within: limit, every: .milliseconds(50), { !self.process.isRunning }) else {
            process.terminate()
            return nil
        }
        process.waitUntilExit()
        return CLI.Output(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: stdout, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
        )
    }
}
