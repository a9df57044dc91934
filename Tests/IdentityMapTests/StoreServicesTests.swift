import AuditTrail
import CryptoPrimitives
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("Tokens, idempotency, events and migrations", .timeLimit(.minutes(3)))
struct StoreServicesTests {
    @Test("tokens are stored only as hashes; revoked tokens stop authenticating")
    func tokens() async throws {
        let f = try await MapFixture.make()
        let (token, secret) = try await f.tokens.create(name: "backend", scopes: [.resolve, .write], attribution: f.by).run(
            on: f.db.database)
        #expect(secret.value.hasPrefix("sid_"))
        #expect(try await f.tokens.authenticate(secret)?.id == token.id)
        #expect(try await f.tokens.authenticate(TokenSecret("sid_wrong")) == nil)
        // Nothing in the database contains the secret.
        let dump = try f.db.rows("SELECT string_agg(t::text, ' ') AS all FROM api_tokens t")[0].decode("all", as: String.self)
        let eventDump = try f.db.rows("SELECT string_agg(e::text, ' ') AS all FROM events e")[0].decode("all", as: String.self)
        #expect(!dump.contains(secret.value) && !eventDump.contains(secret.value))
        await #expect(throws: IdentityMapError.tokenNameTaken("backend")) {
            try await f.tokens.create(name: "backend", scopes: [.resolve], attribution: f.by).run(on: f.db.database)
        }
        _ = try await f.tokens.revoke(nameOrID: "backend", attribution: f.by).run(on: f.db.database)
        #expect(try await f.tokens.authenticate(secret) == nil)
        await #expect(throws: IdentityMapError.tokenNotFound("backend")) {
            try await f.tokens.revoke(nameOrID: "backend", attribution: f.by).run(on: f.db.database)
        }
        // The name is free again once revoked.
        _ = try await f.tokens.create(name: "backend", scopes: [.audit], attribution: f.by).run(on: f.db.database)
        #expect(try f.events(kind: "token_created") == 2)
        #expect(try f.events(kind: "token_revoked") == 1)
    }

    @Test("a revocation is announced on the feed the servers listen to")
    func revocationFeed() async throws {
        let f = try await MapFixture.make()
        let (token, _) = try await f.tokens.create(name: "t", scopes: [.resolve], attribution: f.by).run(on: f.db.database)
        let feed = TokenRevocationFeed(conninfo: f.db.url)
        try await feed.connect()
        _ = try await f.tokens.revoke(nameOrID: "t", attribution: f.by).run(on: f.db.database)
        var heard: [UUID?] = []
        for _ in 0..<20 where heard.isEmpty { heard = try await feed.next(timeout: .milliseconds(100)) }
        #expect(heard == [token.id])
        await feed.close()
    }

    @Test("Idempotency-Key: same request replays the first answer with one event; another request is refused")
    func idempotency() async throws {
        let f = try await MapFixture.make()
        let (token, _) = try await f.tokens.create(name: "w", scopes: [.write], attribution: f.by).run(on: f.db.database)
        let key = try IdempotencyKey(tokenID: token.id, key: "k-1", requestFingerprint: SHA256.hash("body-1"))
        let write = f.map.createUser(identities: [try f.identity(f.old, "idem")], attribution: f.by)
        let respond: @Sendable (User) throws -> RecordedResponse = { RecordedResponse(status: 201, body: $0.id.uuidString) }
        let first = try await write.run(on: f.db.database, idempotencyKey: key, respond: respond)
        let second = try await write.run(on: f.db.database, idempotencyKey: key, respond: respond)
        guard case .executed(let original) = first, case .replayed(let replay) = second else {
            Issue.record("expected executed then replayed, got \(first) and \(second)")
            return
        }
        #expect(original == replay)
        #expect(try f.db.count("users") == 1)
        #expect(try f.events(kind: "user_created") == 1)
        let other = try IdempotencyKey(tokenID: token.id, key: "k-1", requestFingerprint: SHA256.hash("body-2"))
        await #expect(throws: IdentityMapError.idempotencyKeyReused) {
            try await write.run(on: f.db.database, idempotencyKey: other, respond: respond)
        }
        // A failed write does not burn the key.
        let failing = try IdempotencyKey(tokenID: token.id, key: "k-2", requestFingerprint: SHA256.hash("dup"))
        let conflicting = f.map.createUser(identities: [try f.identity(f.old, "idem", username: "z")], attribution: f.by)
        await #expect(throws: IdentityMapError.self) {
            try await conflicting.run(on: f.db.database, idempotencyKey: failing, respond: respond)
        }
        #expect(try f.db.count("idempotency_keys", where: "key = 'k-2'") == 0)
    }

    @Test("Idempotency-Key still in flight: a second request is refused at once with idempotencyKeyInUse, then replays")
    func idempotencyInFlight() async throws {
        let f = try await MapFixture.make()
        let (token, _) = try await f.tokens.create(name: "w", scopes: [.write], attribution: f.by).run(on: f.db.database)
        let key = try IdempotencyKey(tokenID: token.id, key: "k-flight", requestFingerprint: SHA256.hash("body"))
        let write = f.map.createUser(identities: [try f.identity(f.old, "flight")], attribution: f.by)
        let respond: @Sendable (User) throws -> RecordedResponse = { RecordedResponse(status: 201, body: $0.id.uuidString) }
        // The first request, mid-transaction: it has claimed the key and not committed yet.
        let first = try f.db.connect()
        try first.execute("BEGIN")
        let keyLock = "\(token.id.uuidString.lowercased()):k-flight"
        try first.execute("SELECT pg_advisory_xact_lock(hashtextextended(\(keyLock), 0))")
        await #expect(throws: IdentityMapError.idempotencyKeyInUse) {
            try await write.run(on: f.db.database, idempotencyKey: key, respond: respond)
        }
        try first.execute("ROLLBACK")
        let outcome = try await write.run(on: f.db.database, idempotencyKey: key, respond: respond)
        guard case .executed = outcome else {
            Issue.record("expected the retry to run, got \(outcome)")
            return
        }
        #expect(try f.db.count("users") == 1)
    }

    @Test("upgrading to 0005: tokens that could write (and so merge) keep merging; empty text is refused in events")
    func mergeScopeUpgrade() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let connection = try db.connect()
        // Migrate to just before 0005, as an existing installation is.
        try await withTemporaryDirectory("sql") { earlier in
            for file in try FileManager.default.contentsOfDirectory(atPath: TestDatabase.sqlDirectory.path) where file < "0005" {
                try FileManager.default.copyItem(
                    at: TestDatabase.sqlDirectory.appendingPathComponent(file), to: earlier.appendingPathComponent(file)
                )
            }
            _ = try SchemaMigrator(directory: earlier).migrate(on: connection)
        }
        try connection.execute(
            "INSERT INTO api_tokens (id, name, token_hash, scopes) VALUES (gen_random_uuid(), 'backend', '\\x01', '{resolve,write}')"
        )
        try connection.execute(
            "INSERT INTO api_tokens (id, name, token_hash, scopes) VALUES (gen_random_uuid(), 'reader', '\\x02', '{resolve}')"
        )
        let applied = try SchemaMigrator(directory: TestDatabase.sqlDirectory).migrate(on: connection)
        #expect(applied.map(\.version).contains(5))
        let scopes = try connection.query("SELECT name, array_to_string(scopes, ',') AS s FROM api_tokens ORDER BY name").map {
            (try $0.decode("name", as: String.self), try $0.decode("s", as: String.self))
        }
        #expect(scopes.map(\.0) == ["backend", "reader"])
        #expect(scopes[0].1 == "resolve,write,merge" && scopes[1].1 == "resolve")
        #expect(throws: PostgresError.self) {
            try connection.execute("INSERT INTO events (actor, kind, sub) VALUES ('system', 'test', '')")
        }
    }

    @Test("housekeeping removes idempotent answers past retention and staging rows of runs that died; nothing newer")
    func housekeeping() async throws {
        let f = try await MapFixture.make()
        let (token, _) = try await f.tokens.create(name: "w", scopes: [.write], attribution: f.by).run(on: f.db.database)
        let connection = try f.db.connect()
        try connection.execute(
            """
            INSERT INTO idempotency_keys (token_id, key, request_hash, response_status, response_body, created_at) VALUES
              (\(token.id), 'old', '\\x00', 201, '{"email":"old@example.com"}', now() - interval '25 hours'),
              (\(token.id), 'new', '\\x00', 201, '{}', now())
            """
        )
        let oldRun = "01000000-0000-7000-8000-000000000000"  // a UUIDv7 from 2004
        let newRun = UUIDv7.make().uuidString.lowercased()
        for run in [oldRun, newRun] {
            try connection.execute(
                "INSERT INTO import_staging (run_id, seq, sub, username, email) VALUES (\(run)::uuid, 1, \(testSub("st")), 'u', 'st@example.com')"
            )
        }
        let removed = try await Housekeeping(database: f.db.database).run()
        #expect(removed.idempotencyKeys == 1 && removed.stagingRows == 1)
        #expect(try f.db.count("idempotency_keys") == 1)
        #expect(try f.db.count("import_staging", where: "run_id = '\(newRun)'") == 1)
    }

    @Test("housekeeping removes pending links older than the day the triggers honour them, and counts them; fresh ones stay")
    func housekeepingPendingLinks() async throws {
        let f = try await MapFixture.make()
        let user = try await f.user()
        let connection = try f.db.connect()
        let campaign = UUID()
        try connection.execute(
            "INSERT INTO campaigns (id, name, target_pool) VALUES (\(campaign), 'hk-links', \(f.new.rawValue))")
        let lifetime = Int(Housekeeping.pendingLinkLifetime.components.seconds)
        // name: seconds old (just past the lifetime, just inside it, fresh)
        for (name, age) in [("stale", lifetime + 60), ("edge", lifetime - 60), ("fresh", 0)] {
            try connection.execute(
                """
                INSERT INTO pending_links (target_pool, username, user_id, campaign_id, via, created_at)
                VALUES (\(f.new.rawValue), \(name), \(user.id), \(campaign), 'lazy', now() - make_interval(secs => \(age)))
                """
            )
        }
        let removed = try await Housekeeping(database: f.db.database).run()
        #expect(removed.pendingLinks == 1 && removed.idempotencyKeys == 0 && removed.stagingRows == 0)
        let left = try f.db.rows("SELECT username FROM pending_links ORDER BY username").map { try $0.decode("username", as: String.self) }
        #expect(left == ["edge", "fresh"])
        #expect(try await Housekeeping(database: f.db.database).run().pendingLinks == 0)
    }

    @Test("housekeeping keeps a resumable live run's snapshot and progress for a day, then removes them")
    func housekeepingResumableSnapshots() async throws {
        let f = try await MapFixture.make()
        let connection = try f.db.connect()
        /// A UUIDv7 whose time is `hours` ago (housekeeping reads a run's age from its id).
        func runID(hoursAgo hours: Double, _ n: Int) -> String {
            let hex = String(UInt64((Date().timeIntervalSince1970 - hours * 3600) * 1000), radix: 16)
            let time = String(repeating: "0", count: 12 - hex.count) + hex
            return "\(time.prefix(8))-\(time.suffix(4))-7000-8000-" + String(repeating: "0", count: 11) + String(n)
        }
        // name: (age in hours, status, progress rows?)
        let runs: [(name: String, hours: Double, status: String, progress: Bool)] = [
            ("failed-recent", 2, "failed", true),  // resumable: kept
            ("failed-old", 26, "failed", true),  // past the day and its grace: removed
            ("failed-plain", 2, "failed", false),  // not resumable, finished past the grace: removed
            ("running-resumed", 30, "running", true),  // resumed near the limit, still reading: kept
        ]
        var ids: [String: String] = [:]
        for (index, run) in runs.enumerated() {
            let id = runID(hoursAgo: run.hours, index)
            ids[run.name] = id
            let finished: String? = run.status == "running" ? nil : "-2 hours"
            try connection.execute(
                """
                INSERT INTO reconcile_runs (id, scope, pools, source, actor, status, started_at, finished_at)
                VALUES (\(id)::uuid, 'pools:us-east-1_Keep', '{us-east-1_Keep}', 'live', 'system', \(run.status),
                        now() - make_interval(hours => \(Int(run.hours))), now() + \(finished)::interval)
                """
            )
            try connection.execute(
                """
                INSERT INTO reconcile_snapshot (run_id, pool_id, seq, sub, username)
                VALUES (\(id)::uuid, 'us-east-1_Keep', 0, \(testSub("hk\(index)")), 'u')
                """
            )
            if run.progress {
                try connection.execute(
                    """
                    INSERT INTO reconcile_progress (run_id, pool_id, started, pagination_token, staged)
                    VALUES (\(id)::uuid, 'us-east-1_Keep', now(), 'next', 1)
                    """
                )
            }
        }
        _ = try await Housekeeping(database: f.db.database).run()
        func left(_ table: String, _ name: String) throws -> Int { try f.db.count(table, where: "run_id = '\(ids[name]!)'") }
        #expect(try left("reconcile_snapshot", "failed-recent") == 1 && left("reconcile_progress", "failed-recent") == 1)
        #expect(try left("reconcile_snapshot", "failed-old") == 0 && left("reconcile_progress", "failed-old") == 0)
        #expect(try left("reconcile_snapshot", "failed-plain") == 0)
        #expect(try left("reconcile_snapshot", "running-resumed") == 1 && left("reconcile_progress", "running-resumed") == 1)
    }

    @Test("events are append-only: UPDATE, DELETE and TRUNCATE are rejected")
    func appendOnly() async throws {
        let f = try await MapFixture.make()
        try await f.user()
        let connection = try f.db.connect()
        for statement in ["UPDATE events SET kind = 'x'", "DELETE FROM events", "TRUNCATE events CASCADE"] {
            #expect(throws: PostgresError.self, "\(statement)") { try connection.execute(PostgresQuery(unsafeSQL: statement)) }
        }
        #expect(try f.db.count("events") == 3)  // two pool_added + user_created
    }

    @Test("every write records exactly one event with actor and request id, and personal data apart")
    func eventShape() async throws {
        let f = try await MapFixture.make()
        let user = try await f.user(try f.identity(f.old, "s", username: "dave", email: "dave@example.com"))
        let events = try #require(try await EventQuery(database: f.db.database).history(of: user.id))
        #expect(events.map(\.kind) == ["user_created", "identity_linked"])
        let linked = events[1]
        #expect(linked.actor == "system")
        #expect(linked.requestID == "test")
        #expect(linked.poolID == "us-east-1_Old" && linked.sub == testSub("s"))
        #expect(linked.personal?["email"]?.stringValue == "dave@example.com")
        #expect(!linked.details.canonicalText.contains("dave"))
        let paged = try #require(try await EventQuery(database: f.db.database).history(of: user.id, after: events[0].id, limit: 1))
        #expect(paged.map(\.id) == [linked.id])
    }

    @Test("migrate twice is a no-op; an edited or removed applied migration is refused")
    func migrations() async throws {
        let db = try await TestDatabase.make(migrated: false)
        try await withTemporaryDirectory("sql") { directory in
            for name in try FileManager.default.contentsOfDirectory(atPath: TestDatabase.sqlDirectory.path) {
                try FileManager.default.copyItem(
                    at: TestDatabase.sqlDirectory.appendingPathComponent(name), to: directory.appendingPathComponent(name)
                )
            }
            let first = try await SchemaMigrator(directory: directory).migrate(db.database)
            #expect(!first.isEmpty)
            #expect(try await SchemaMigrator(directory: directory).migrate(db.database).isEmpty)
            #expect(try await SchemaMigrator(directory: directory).pending(db.database).isEmpty)

            try "CREATE TABLE later (id int);\n".write(
                to: directory.appendingPathComponent("9000_later.sql"), atomically: true, encoding: .utf8)
            #expect(try await SchemaMigrator(directory: directory).pending(db.database).map(\.version) == [9000])
            _ = try await SchemaMigrator(directory: directory).migrate(db.database)
            #expect(try db.count("later") == 0)

            let edited = directory.appendingPathComponent("9000_later.sql")
            try "CREATE TABLE later (id bigint);\n".write(to: edited, atomically: true, encoding: .utf8)
            await #expect(throws: SchemaMigrator.Failure.appliedFileChanged(version: 9000, name: "9000_later")) {
                try await SchemaMigrator(directory: directory).migrate(db.database)
            }
            try FileManager.default.removeItem(at: edited)
            await #expect(throws: SchemaMigrator.Failure.appliedFileMissing(version: 9000, name: "9000_later")) {
                try await SchemaMigrator(directory: directory).pending(db.database)
            }
        }
    }

    @Test("a failing migration leaves no trace and is not recorded")
    func failingMigration() async throws {
        let db = try await TestDatabase.make()
        try await withTemporaryDirectory("sql") { directory in
            for name in try FileManager.default.contentsOfDirectory(atPath: TestDatabase.sqlDirectory.path) {
                try FileManager.default.copyItem(
                    at: TestDatabase.sqlDirectory.appendingPathComponent(name), to: directory.appendingPathComponent(name)
                )
            }
            try "CREATE TABLE half (id int);\nSELECT 1/0;\n".write(
                to: directory.appendingPathComponent("9001_broken.sql"), atomically: true, encoding: .utf8)
            await #expect(throws: PostgresError.self) { try await SchemaMigrator(directory: directory).migrate(db.database) }
            #expect(try db.count("pg_tables", where: "tablename = 'half'") == 0)
            #expect(try db.count("schema_migrations", where: "version = 9001") == 0)
        }
    }
}
