import AuditTrail
import CryptoPrimitives
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// A database with some history, sealed, and a signed checkpoint of it.
struct AuditFixture {
    let db: TestDatabase
    let chain: AuditChain
    let key: [UInt8]

    static func make(users: Int = 12) async throws -> AuditFixture {
        let db = try await TestDatabase.make()
        let by = Attribution(actor: .system)
        let pool = PoolID("us-east-1_Audit")!
        _ = try await PoolStore(database: db.database).add(id: pool, attribution: by).run(on: db.database)
        let map = IdentityMapStore(database: db.database)
        for i in 0..<users {
            _ = try await map.createUser(
                identities: [try NewIdentity(pool: pool, sub: testSub("sub-\(i)"), username: "user\(i)", email: "user\(i)@example.com")],
                attribution: by
            ).run(on: db.database)
        }
        let chain = AuditChain(database: db.database)
        while try await chain.seal() > 0 {}
        return AuditFixture(db: db, chain: chain, key: try Ed25519.generateKeyPair().privateKey)
    }

    func verify(checkpoints: [Checkpoint] = []) async throws -> ChainVerifier.Report {
        try await ChainVerifier(database: db.database, pageSize: 7).verify(checkpoints: checkpoints)
    }

    /// Runs SQL as a superuser with triggers and foreign keys off, as an attacker with full access would.
    func tamper(_ sql: String) throws {
        let connection = try db.connect()
        try connection.executeScript("SET session_replication_role = replica; \(sql); SET session_replication_role = origin;")
    }

    func position(ofEvent eventID: Int64) throws -> Int64 {
        try db.rows("SELECT seq FROM event_chain WHERE event_id = \(eventID)")[0].decode("seq")
    }

    func eventID(at position: Int64) throws -> Int64 {
        try db.rows("SELECT event_id FROM event_chain WHERE seq = \(position)")[0].decode("event_id")
    }
}

@Suite("Audit trail", .timeLimit(.minutes(3)))
struct AuditTrailTests {
    @Test("an untouched chain verifies, with and without its checkpoint")
    func intact() async throws {
        let f = try await AuditFixture.make()
        let head = try await f.chain.head()
        #expect(head.size == Int64(try f.db.count("events")))
        let checkpoint = try Checkpoint.sign(head: head, privateKey: f.key)
        let report = try await f.verify(checkpoints: [checkpoint])
        #expect(report.problem == nil)
        #expect(report.verified == head.size && report.checkpointsChecked == 1 && report.pending == 0)
        // The binary fast path vouched for every position by itself (the text path is for problems).
        #expect(report.pagesRechecked == 0)
    }

    @Test("an intact position the binary fast path cannot write (a time past year 9999) is vouched for by the text path")
    func fastPathFallbackOnIntactChain() async throws {
        let f = try await AuditFixture.make(users: 3)
        // Inserted through the queue and sealed as any event is: the chain is intact, but RFC 3339
        // has no four-digit spelling for the time, so only the text path can rebuild its bytes.
        let db = try f.db.connect()
        try db.executeScript(
            "INSERT INTO events (occurred_at, actor, kind, details) VALUES ('10001-01-01 00:00:00+00', 'system', 'far_future', '{}')")
        while try await f.chain.seal() > 0 {}
        let report = try await f.verify()
        let events = Int64(try f.db.count("events"))
        #expect(report.problem == nil, "\(String(describing: report.problem))")
        #expect(report.pagesRechecked == 1 && report.verified == events)
    }

    @Test("--from past the head verifies nothing new and reports the trusted head; checkpoints below --from still match")
    func fromHead() async throws {
        let f = try await AuditFixture.make()
        let head = try await f.chain.head()
        let checkpoint = try Checkpoint.sign(head: head, privateKey: f.key)
        let key = try Ed25519.publicKey(forPrivateKey: f.key)
        let nothingNew = try await ChainVerifier(database: f.db.database).verify(
            from: head.size + 1, checkpoints: [checkpoint], publicKey: key)
        #expect(
            nothingNew.problem == nil && nothingNew.verified == 0 && nothingNew.head == head, "\(String(describing: nothingNew.problem))")
        let tail = try await ChainVerifier(database: f.db.database).verify(from: head.size - 2, checkpoints: [checkpoint], publicKey: key)
        #expect(tail.problem == nil && tail.verified == 3 && tail.checkpointsChecked == 1)
    }

    @Test("UPDATE of an event's details is found at its position")
    func modifiedDetail() async throws {
        let f = try await AuditFixture.make()
        let target = try f.eventID(at: 9)
        try f.tamper("UPDATE events SET details = '{\"given_id\": true}' WHERE id = \(target)")
        let problem = try #require(try await f.verify().problem)
        #expect(problem.position == 9 && problem.kind == .modified)
    }

    @Test("UPDATE of personal data is found; DELETE of a middle event is found")
    func personalAndDeleted() async throws {
        let f = try await AuditFixture.make()
        let linked = try f.db.rows("SELECT min(event_id) AS id FROM event_personal_data")[0].decode("id", as: Int64.self)
        try f.tamper("UPDATE event_personal_data SET data = '{\"email\": \"forged@example.com\"}' WHERE event_id = \(linked)")
        let personal = try #require(try await f.verify().problem)
        let linkedPosition = try f.position(ofEvent: linked)
        #expect(personal.kind == .modified && personal.position == linkedPosition)

        let g = try await AuditFixture.make()
        let middle = try g.eventID(at: 12)
        try g.tamper("DELETE FROM event_personal_data WHERE event_id = \(middle); DELETE FROM events WHERE id = \(middle)")
        let deleted = try #require(try await g.verify().problem)
        #expect(deleted.kind == .missing && deleted.position == 12)
        // Deleting its chain position as well leaves a gap at the same place.
        try g.tamper("DELETE FROM event_chain WHERE seq = 12")
        let gap = try #require(try await g.verify().problem)
        #expect(gap.kind == .missing && gap.position == 12)
    }

    @Test("a forged event inserted behind the queue's back is found where it would sit")
    func inserted() async throws {
        let f = try await AuditFixture.make()
        try f.tamper(
            "INSERT INTO events (id, actor, kind, details) OVERRIDING SYSTEM VALUE VALUES (1000000, 'token:admin', 'user_merged', '{}')")
        let atEnd = try #require(try await f.verify().problem)
        let size = try f.db.count("event_chain")
        #expect(atEnd.kind == .inserted && atEnd.position == Int64(size + 1))

        // With an id below every sealed event, it would sit before position 1.
        let g = try await AuditFixture.make()
        try g.tamper("INSERT INTO events (id, actor, kind, details) OVERRIDING SYSTEM VALUE VALUES (0, 'token:admin', 'user_merged', '{}')")
        let atStart = try #require(try await g.verify().problem)
        #expect(atStart.kind == .inserted && atStart.position == 1)
    }

    @Test("a sealed NULL pool_id, sub or request_id set to '' (CHECK dropped) hashes alike, yet is named as modified at its position")
    func emptyTextForNull() async throws {
        for column in CanonicalEvent.TextColumn.allCases where column.isNullable {
            let f = try await AuditFixture.make(users: 3)
            // The last sealed event with NULL there, so the positions before it are vouched for first.
            let target = try #require(
                try f.db.rows(
                    """
                    SELECT c.seq, c.event_id FROM event_chain c JOIN events e ON e.id = c.event_id
                    WHERE e.\(unescaped: column.rawValue) IS NULL ORDER BY c.seq DESC LIMIT 1
                    """
                ).first, "no sealed event with \(column.rawValue) NULL")
            let seq: Int64 = try target.decode("seq")
            let eventID: Int64 = try target.decode("event_id")
            // A superuser can drop the CHECK that refuses '' (migration 0005); the bytes do not change.
            try f.tamper(
                "ALTER TABLE events DROP CONSTRAINT events_no_empty_text; UPDATE events SET \(column.rawValue) = '' WHERE id = \(eventID)")
            let report = try await f.verify()
            let problem = try #require(report.problem, "\(column.rawValue) = '' verified intact")
            #expect(problem.kind == .modified && problem.position == seq, "\(column.rawValue): \(problem)")
            #expect(problem.detail.contains("event \(eventID) has \(column.rawValue) = ''"), "\(problem.detail)")
            // The binary fast path refused to vouch for it; the text path named it.
            #expect(report.verified == seq - 1 && report.pagesRechecked == 1, "\(column.rawValue)")
            // The same value in an export is refused offline too.
            var lines: [String] = []
            for try await page in EventQuery(database: f.db.database).all(EventFilter(), withChain: true) {
                lines += page.map { EventExportFormat.ndjson.line($0, withChain: true) }
            }
            let checkpoint = try Checkpoint.sign(head: try await f.chain.head(), privateKey: f.key)
            let offline = try await withTemporaryDirectory("export") { directory in
                let path = directory.appendingPathComponent("export.ndjson").path
                try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: path))
                return try ExportVerifier.verify(
                    fileAt: path, checkpoints: [checkpoint], trustedKey: try Ed25519.publicKey(forPrivateKey: f.key), allowUnsealed: false)
            }
            let first = try #require(offline.problems.first, "the export of \(column.rawValue) = '' verified intact")
            #expect(!offline.intact && first.position == seq && first.kind == .modified, "\(offline.problems)")
        }
        // Honest events never hold such a value; the rule on its own, for every column.
        #expect(CanonicalEvent.ambiguousValues(actor: "system", kind: "pool_added", poolID: nil, sub: nil, requestID: nil).isEmpty)
        #expect(
            CanonicalEvent.ambiguousValues(actor: "", kind: nil, poolID: "", sub: "", requestID: "")
                == ["actor = ''", "kind IS NULL", "pool_id = ''", "sub = ''", "request_id = ''"])
    }

    @Test("two events swapped are reported as reordered at the first of them")
    func swapped() async throws {
        let f = try await AuditFixture.make()
        let a = try f.eventID(at: 7), b = try f.eventID(at: 8)
        try f.tamper(
            """
            UPDATE event_chain SET event_id = -1 WHERE seq = 7;
            UPDATE event_chain SET event_id = \(a) WHERE seq = 8;
            UPDATE event_chain SET event_id = \(b) WHERE seq = 7
            """
        )
        let problem = try #require(try await f.verify().problem)
        #expect(problem.kind == .reordered && problem.position == 7)
    }

    @Test("truncating the tail after a checkpoint, or rewriting the whole chain consistently, fails against the checkpoint")
    func checkpointsCatchRewrites() async throws {
        let f = try await AuditFixture.make()
        let checkpoint = try Checkpoint.sign(head: try await f.chain.head(), privateKey: f.key)
        let size = checkpoint.size
        try f.tamper(
            """
            CREATE TEMP TABLE gone AS SELECT event_id FROM event_chain WHERE seq > \(size - 3);
            DELETE FROM event_chain WHERE seq > \(size - 3);
            DELETE FROM event_personal_data WHERE event_id IN (SELECT event_id FROM gone);
            DELETE FROM events WHERE id IN (SELECT event_id FROM gone)
            """
        )
        #expect(try await f.verify().problem == nil)  // consistent by itself…
        let truncated = try #require(try await f.verify(checkpoints: [checkpoint]).problem)
        #expect(truncated.kind == .checkpointMismatch)  // …but shorter than the auditor's checkpoint

        let g = try await AuditFixture.make()
        let kept = try Checkpoint.sign(head: try await g.chain.head(), privateKey: g.key)
        // A superuser edits history and recomputes every hash: the chain alone looks intact.
        try g.tamper(
            """
            UPDATE events SET details = '{"given_id": true, "identities": 9}' WHERE id = (SELECT event_id FROM event_chain WHERE seq = 4);
            DELETE FROM event_chain; INSERT INTO event_pending SELECT id FROM events
            """
        )
        while try await g.chain.seal() > 0 {}
        #expect(try await g.verify().problem == nil)
        let rewritten = try #require(try await g.verify(checkpoints: [kept]).problem)
        #expect(rewritten.kind == .checkpointMismatch && rewritten.position == kept.size)

        // A checkpoint whose signature does not verify is refused.
        var forged = kept
        forged.headHash = String(repeating: "0", count: 64)
        #expect(try await g.verify(checkpoints: [forged]).problem?.detail.contains("signature") == true)
    }

    @Test("the service role cannot UPDATE, DELETE or TRUNCATE the audit tables, but the application works under it")
    func serviceRole() async throws {
        let f = try await AuditFixture.make()
        let connection = try f.db.connect()
        try connection.execute("SET ROLE stableid_service")
        for statement in [
            "UPDATE events SET kind = 'x'", "DELETE FROM events", "TRUNCATE events CASCADE",
            "UPDATE event_chain SET seq = seq", "DELETE FROM event_chain", "TRUNCATE event_chain",
        ] {
            do {
                try connection.execute(PostgresQuery(unsafeSQL: statement))
                Issue.record("\(statement) was allowed")
            } catch let error as PostgresError {
                #expect(error.isInsufficientPrivilege, "\(statement): \(error)")
            }
        }
        // The whole write path works with only the service role's privileges.
        let url = f.db.url + (f.db.url.contains("?") ? "&" : "?") + "options=-c%20role%3Dstableid_service"
        let service = Database(primary: PostgresClient(configuration: .init(conninfo: url, maxConnections: 2)))
        let who: String = try await service.primary.query("SELECT current_user AS u")[0].decode("u")
        #expect(who == "stableid_service")
        let user = try await IdentityMapStore(database: service).createUser(
            identities: [try NewIdentity(pool: PoolID("us-east-1_Audit")!, sub: testSub("svc"), username: "svc", email: "svc@example.com")],
            attribution: .init(actor: .system)
        ).run(on: service)
        #expect(try await AuditChain(database: service).seal() == 2)
        _ = try await Erasure(database: service).forget(userID: user.id, attribution: .init(actor: .system))
        #expect(try await ChainVerifier(database: service).verify().problem == nil)
    }

    @Test("the service role may DELETE only where StableID deletes (0013): not pools, users, identities, api_tokens, reconcile_runs")
    func serviceRoleDeletes() async throws {
        let f = try await AuditFixture.make(users: 2)
        let connection = try f.db.connect()
        try connection.execute("SET ROLE stableid_service")
        for table in ["pools", "users", "identities", "api_tokens", "reconcile_runs"] {
            do {
                try connection.execute(PostgresQuery(unsafeSQL: "DELETE FROM \(table)"))
                Issue.record("DELETE FROM \(table) was allowed")
            } catch let error as PostgresError {
                #expect(error.isInsufficientPrivilege, "\(table): \(error)")
            }
        }
        try connection.execute("RESET ROLE")
        // Every table it may still delete from is one some DELETE of StableID's needs (see
        // sql/0013_audit_hardening.sql); a new grant has to be added here on purpose.
        let deletable = try f.db.rows(
            """
            SELECT c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND has_table_privilege('stableid_service', c.oid, 'DELETE')
            """
        ).map { try $0.decode("name", as: String.self) }
        #expect(
            Set(deletable) == [
                "idempotency_keys", "import_staging", "event_pending", "event_personal_data", "pending_links", "reconcile_snapshot",
                "reconcile_progress", "findings", "identity_changes", "identity_change_pending", "identity_change_commit",
                "report_sessions", "change_feed", "change_feed_pending", "change_feed_commit",
                // `webhook remove` deletes the endpoint's row, and with it its secret (sql/0024).
                "webhooks",
                // Erasure deletes a person's usernames from subset member files (sql/0025).
                "campaign_subset_members",
            ], "\(deletable.sorted())")
        // The deletes the service does make still work under it: housekeeping here; erasure and
        // the sealer in `serviceRole`.
        let url = f.db.url + (f.db.url.contains("?") ? "&" : "?") + "options=-c%20role%3Dstableid_service"
        let service = Database(primary: PostgresClient(configuration: .init(conninfo: url, maxConnections: 2)))
        defer { service.shutdown() }
        _ = try await Housekeeping(database: service).run()
    }

    @Test("8 concurrent writers × 500 events with the sealer running: one gapless, valid chain")
    func concurrentWriters() async throws {
        let db = try await TestDatabase.make(maxConnections: 10)
        let chain = AuditChain(database: db.database)
        let sealing = Task {
            while !Task.isCancelled {
                _ = try? await chain.seal(limit: 500)
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    for n in 0..<500 {
                        try await db.database.primary.transaction { connection in
                            _ = try EventLog.append(
                                EventDraft(
                                    kind: .init(rawValue: "test_event"),
                                    details: ["writer": .number(Double(writer)), "n": .number(Double(n))],
                                    personal: EventPersonalData(email: n % 10 == 0 ? "w\(writer)-\(n)@example.com" : nil)),
                                attribution: .init(actor: .system), on: connection
                            )
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        sealing.cancel()
        await sealing.value  // a seal in progress holds the lock; let it finish first
        while try await chain.seal() > 0 {}
        #expect(try db.count("event_chain") == 4000)
        let gaps: Int = try db.rows("SELECT count(*) AS n FROM event_chain WHERE seq NOT BETWEEN 1 AND 4000")[0].decode("n")
        #expect(gaps == 0)
        let report = try await ChainVerifier(database: db.database).verify()
        #expect(report.problem == nil && report.verified == 4000 && report.pagesRechecked == 0)
    }

    @Test("kill -9 of a writer mid-batch leaves a verifiable chain and none of its events")
    func killedWriter() async throws {
        let f = try await AuditFixture.make()
        let before = try f.db.count("events")
        try await withTemporaryDirectory("writer") { directory in
            let script = directory.appendingPathComponent("writer.sql")
            try """
            BEGIN;
            INSERT INTO events (actor, kind, details) SELECT 'system', 'batch_event', jsonb_build_object('n', n) FROM generate_series(1, 500) n;
            SELECT pg_sleep(60);
            COMMIT;
            """.write(to: script, atomically: true, encoding: .utf8)
            let writer = Process()
            writer.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            writer.arguments = ["psql", "-q", f.db.url, "-f", script.path]
            writer.standardOutput = FileHandle.nullDevice
            writer.standardError = FileHandle.nullDevice
            try writer.run()
            // Wait until the batch is inserted and the writer sits in its open transaction.
            var waiting = false
            for _ in 0..<100 where !waiting {
                waiting =
                    try f.db.count("pg_stat_activity", where: "datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%'") == 1
                if !waiting { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(waiting)
            // Meanwhile another writer commits, and the sealer runs.
            _ = try await IdentityMapStore(database: f.db.database).createUser(attribution: .init(actor: .system)).run(on: f.db.database)
            while try await f.chain.seal() > 0 {}
            kill(writer.processIdentifier, SIGKILL)
            writer.waitUntilExit()
            for _ in 0..<100
            where try f.db.count("pg_stat_activity", where: "datname = current_database() AND query LIKE 'SELECT pg_sleep(60)%'") > 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            while try await f.chain.seal() > 0 {}
            #expect(try f.db.count("events") == before + 1)
            #expect(try f.db.count("events", where: "kind = 'batch_event'") == 0)
            let report = try await f.verify()
            #expect(report.problem == nil && report.pending == 0)
        }
    }

    @Test("an export of 100,000 events equals the paged query")
    func export() async throws {
        let db = try await TestDatabase.make()
        try db.connect().execute(
            """
            INSERT INTO events (actor, kind, pool_id, details)
            SELECT 'system', CASE WHEN n % 2 = 0 THEN 'even' ELSE 'odd' END, 'us-east-1_X', jsonb_build_object('n', n)
            FROM generate_series(1, 100000) n
            """
        )
        let query = EventQuery(database: db.database)
        var exported: [Int64] = []
        var lines = 0
        for try await page in query.all(EventFilter(kind: "even")) {
            exported += page.map(\.id)
            for event in page { lines += EventExportFormat.ndjson.line(event).hasSuffix("}\n") ? 1 : 0 }
        }
        var paged: [Int64] = []
        var cursor: Int64 = 0
        while true {
            let page = try await query.page(EventFilter(kind: "even"), after: cursor, limit: 1000)
            if page.isEmpty { break }
            paged += page.map(\.id)
            cursor = page.last!.id
        }
        #expect(exported.count == 50_000 && lines == 50_000)
        #expect(exported == paged)
        let expected = try db.rows("SELECT count(*) AS n FROM events WHERE kind = 'even'")[0].decode("n", as: Int.self)
        #expect(expected == exported.count)
    }

    @Test("erasure leaves no trace of the email anywhere in a pg_dump, and the chain still verifies")
    func erasure() async throws {
        let f = try await AuditFixture.make(users: 3)
        let by = Attribution(actor: .system)
        let pool = PoolID("us-east-1_Audit")!
        let map = IdentityMapStore(database: f.db.database)
        let person = try await map.createUser(
            identities: [try NewIdentity(pool: pool, sub: testSub("erase-sub"), username: "erase.me.user", email: "Erase.Me@Example.com")],
            attribution: by
        ).run(on: f.db.database)
        let duplicate = try await map.createUser(
            identities: [
                try NewIdentity(pool: pool, sub: testSub("erase-sub-2"), username: "erase.me.again", email: "erase.me@example.com")
            ], attribution: by
        ).run(on: f.db.database)
        _ = try await map.merge(duplicate.id, into: person.id, attribution: by).run(on: f.db.database)
        while try await f.chain.seal() > 0 {}
        let checkpoint = try Checkpoint.sign(head: try await f.chain.head(), privateKey: f.key)
        // A reconciliation snapshot kept for resume holds the person under a user the map does
        // not link to them (another sub, the username in another case, the email as typed).
        try f.db.connect().executeScript(
            """
            INSERT INTO reconcile_snapshot (run_id, pool_id, seq, sub, username, email, email_normalized)
            VALUES (gen_random_uuid(), 'us-east-1_Audit', 1, '\(testSub("erase-elsewhere"))', 'ERASE.ME.USER', 'Erase.Me@Example.com', 'erase.me@example.com'),
                   (gen_random_uuid(), 'us-east-1_Audit', 1, '\(testSub("erase-other"))', 'someone', 'x@example.com', 'erase.me@example.com')
            """)

        let result = try await Erasure(database: f.db.database).forget(userID: duplicate.id, attribution: by)
        #expect(result.userID == person.id.uuidString.lowercased() && result.identities == 2 && result.eventsScrubbed == 2)
        while try await f.chain.seal() > 0 {}
        let report = try await f.verify(checkpoints: [checkpoint])
        #expect(report.problem == nil && report.pagesRechecked == 0)  // merged, unlinked and erased events too

        let text = try Self.dataDump(f.db.url)
        #expect(text.contains("user1@example.com"))  // the others are still there…
        #expect(!text.contains("erase.me"))  // …the erased person is not, in any table
        #expect(try f.db.count("events", where: "kind = 'personal_data_erased'") == 1)
        // The person still resolves: erasure removes personal data, not the identity.
        #expect(try await map.resolve(.pool(pool, sub: testSub("erase-sub")))?.userID == person.id)
    }

    @Test("erasure follows identities that moved: link, unlink, relink to another person, erase that person → no trace in a pg_dump")
    func erasureFollowsMovedIdentities() async throws {
        let f = try await AuditFixture.make(users: 1)
        let by = Attribution(actor: .system)
        let pool = PoolID("us-east-1_Audit")!
        let map = IdentityMapStore(database: f.db.database)
        let identity = try NewIdentity(pool: pool, sub: testSub("moved-x"), username: "moved.person", email: "moved.person@example.com")
        let c = try await map.createUser(identities: [identity], attribution: by).run(on: f.db.database)
        let b = try await map.createUser(attribution: by).run(on: f.db.database)
        _ = try await map.unlink(pool: pool, sub: identity.sub, from: c.id, attribution: by).run(on: f.db.database)
        _ = try await map.link(identity, to: b.id, attribution: by).run(on: f.db.database)
        _ = try await Erasure(database: f.db.database).forget(userID: b.id, attribution: by)
        while try await f.chain.seal() > 0 {}
        #expect(try await f.verify(checkpoints: []).problem == nil)
        let text = try Self.dataDump(f.db.url)
        #expect(!text.contains("moved.person"))
    }

    @Test("verify --state: a history of creates, links, unlinks, relinks, merges and unmerges matches the tables; a direct UPDATE does not")
    func stateFollowsFromEvents() async throws {
        let f = try await AuditFixture.make(users: 2)
        let by = Attribution(actor: .system)
        let pool = PoolID("us-east-1_Audit")!
        let map = IdentityMapStore(database: f.db.database)
        let x = try NewIdentity(pool: pool, sub: testSub("state-x"), username: "state.x")
        let a = try await map.createUser(identities: [x], attribution: by).run(on: f.db.database)
        let b = try await map.createUser(
            identities: [try NewIdentity(pool: pool, sub: testSub("state-y"), username: "state.y")], attribution: by
        )
        .run(on: f.db.database)
        let c = try await map.createUser(attribution: by).run(on: f.db.database)
        _ = try await map.unlink(pool: pool, sub: x.sub, from: a.id, attribution: by).run(on: f.db.database)
        _ = try await map.link(x, to: c.id, attribution: by).run(on: f.db.database)
        _ = try await map.merge(a.id, into: b.id, attribution: by).run(on: f.db.database)
        _ = try await map.merge(b.id, into: c.id, attribution: by).run(on: f.db.database)
        _ = try await map.unmerge(b.id, from: c.id, attribution: by).run(on: f.db.database)
        let clean = try await StateVerifier(database: f.db.database).verify()
        #expect(clean.mismatches.isEmpty, "\(clean.mismatches)")
        #expect(clean.identitiesChecked >= 4 && clean.usersChecked >= 5)

        // An account takeover by a direct UPDATE (no event): named, with the last event that touched it.
        let connection = try f.db.connect()
        try connection.execute("UPDATE identities SET user_id = \(a.id) WHERE pool_id = \(pool.rawValue) AND sub = \(testSub("state-y"))")
        try connection.execute("INSERT INTO users (id) VALUES (\(UUID()))")
        // (A merge by hand must repoint what was merged into b, as merges do: sql/0014 refuses a chain.)
        try connection.execute("UPDATE users SET merged_into = \(c.id) WHERE merged_into = \(b.id)")
        try connection.execute("UPDATE users SET status = 'merged', merged_into = \(c.id) WHERE id = \(b.id)")
        let tampered = try await StateVerifier(database: f.db.database).verify()
        let keys = Set(tampered.mismatches.map { "\($0.subject) \($0.key)" })
        #expect(keys.contains("identity \(pool)/\(testSub("state-y"))"), "\(tampered.mismatches)")
        #expect(keys.contains("user \(b.id.uuidString.lowercased())"))
        #expect(tampered.mismatches.contains { $0.subject == "user" && $0.expected == "absent" })
        let takeover = try #require(tampered.mismatches.first { $0.key == "\(pool)/\(testSub("state-y"))" })
        #expect(takeover.expected.hasPrefix(b.id.uuidString.lowercased()) && takeover.found.hasPrefix(a.id.uuidString.lowercased()))
        #expect(takeover.lastEvent != nil)
    }

    @Test("the replay on its own: merges follow path compression, unmerges point back, unknown kinds are ignored")
    func replayRules() throws {
        var replay = StateReplay()
        let a = UUID(), b = UUID(), c = UUID()
        let key = IdentityKey(pool: PoolID("us-east-1_R")!, sub: testSub("r"))
        replay.apply(id: 1, kind: "user_created", userID: a, key: nil, details: [:])
        replay.apply(id: 2, kind: "user_created", userID: b, key: nil, details: [:])
        replay.apply(id: 3, kind: "user_created", userID: c, key: nil, details: [:])
        replay.apply(id: 4, kind: "identity_linked", userID: a, key: key, details: [:])
        replay.apply(
            id: 5, kind: "user_merged", userID: b, key: nil,
            details: [
                "from": .string(a.uuidString.lowercased()), "survivor": .string(b.uuidString.lowercased()),
                "moved_identities": [["pool": .string(key.pool.rawValue), "sub": .string(key.sub)]],
            ])
        // An older merge event without repointed_users: earlier merges into `from` follow it.
        replay.apply(
            id: 6, kind: "user_merged", userID: c, key: nil,
            details: [
                "from": .string(b.uuidString.lowercased()), "survivor": .string(c.uuidString.lowercased()), "moved_identities": [],
            ])
        replay.apply(id: 7, kind: "token_created", userID: nil, key: nil, details: [:])
        #expect(replay.identities[key]?.owner == b)
        #expect(replay.users[a]?.mergedInto == c && replay.users[b]?.mergedInto == c)
        #expect(replay.check(identity: key, owner: b, status: .disabled) == nil)
        #expect(replay.check(user: a, mergedInto: c) == nil)
        #expect(replay.leftovers().count == 2)
    }

    @Test("personal data deleted without an erasure is tampering; deleted by an erasure it is not")
    func personalDataRemoved() async throws {
        let f = try await AuditFixture.make(users: 3)
        let victim = try f.db.rows("SELECT min(event_id) AS id FROM event_personal_data")[0].decode("id", as: Int64.self)
        let position = try f.db.rows("SELECT seq FROM event_chain WHERE event_id = \(victim)")[0].decode("seq", as: Int64.self)
        try f.tamper("DELETE FROM event_personal_data WHERE event_id = \(victim)")
        let problem = try #require(try await f.verify().problem)
        #expect(problem.kind == .personalDataRemoved && problem.position == position, "\(problem)")

        // The same deletion done by an erasure (which names the events it scrubbed) verifies.
        let g = try await AuditFixture.make(users: 3)
        let owner = try g.db.rows(
            "SELECT e.user_id FROM events e JOIN event_personal_data p ON p.event_id = e.id WHERE e.user_id IS NOT NULL ORDER BY e.id LIMIT 1"
        )[0].decode("user_id", as: UUID.self)
        _ = try await Erasure(database: g.db.database).forget(userID: owner, attribution: .init(actor: .system))
        while try await g.chain.seal() > 0 {}
        #expect(try await g.verify().problem == nil)
    }

    /// `pg_dump --data-only` of a test database, lower-cased: where erased data must not be.
    static func dataDump(_ url: String) throws -> String {
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        dump.arguments = ["pg_dump", "--data-only", url]
        let out = Pipe()
        dump.standardOutput = out
        try dump.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).lowercased()
        dump.waitUntilExit()
        guard dump.terminationStatus == 0 else { throw MissingEnvironment(message: "pg_dump failed") }
        return text
    }
}
