import Foundation
import Postgres
import TestSupport
import Testing

/// What a running service meets in production: schema changes under its prepared statements,
/// held locks, hostile bytes, and transactions that must be retried.
@Suite("Postgres hardening", .timeLimit(.minutes(3)))
struct PostgresHardeningTests {
    @Test("an online ALTER … TYPE under cached prepared statements: the next call re-prepares and answers")
    func survivesSchemaChange() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let setup = try db.connect()
        try setup.execute("CREATE TABLE t (id int PRIMARY KEY, name varchar(10))")
        try setup.execute("INSERT INTO t VALUES (1, 'one')")
        let client = PostgresClient(configuration: .init(conninfo: db.url, maxConnections: 1))
        defer { client.shutdown() }
        for _ in 0..<3 {
            #expect(try await client.query("SELECT name FROM t WHERE id = \(1)")[0].decode("name", as: String.self) == "one")
        }
        // What a rolling upgrade's migration does while replicas keep serving.
        try setup.execute("ALTER TABLE t ALTER COLUMN name TYPE varchar(300)")
        for _ in 0..<3 {
            #expect(try await client.query("SELECT name FROM t WHERE id = \(1)")[0].decode("name", as: String.self) == "one")
        }
        // Inside a transaction the statement fails; the transaction is retried and succeeds.
        try setup.execute("ALTER TABLE t ALTER COLUMN name TYPE text")
        let inTransaction = try await client.transaction { connection in
            try connection.query("SELECT name FROM t WHERE id = \(1)")[0].decode("name", as: String.self)
        }
        #expect(inTransaction == "one")
        // Other statements prepared on the same connection keep working (names are never reused).
        #expect(try await client.query("SELECT count(*) AS n FROM t WHERE id > \(0)")[0].decode("n", as: Int.self) == 1)
    }

    @Test("a NUL byte in a parameter is refused, never cut short into another value")
    func refusesNUL() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let connection = try db.connect()
        #expect(throws: PostgresError.self) {
            try connection.query("SELECT \("abc\u{0}def")::text AS v")
        }
        // The connection is still usable afterwards.
        #expect(try connection.query("SELECT \("abc")::text AS v")[0].decode("v", as: String.self) == "abc")
    }

    @Test("a held lock ends in a typed timeout within the lock_timeout, not a hang")
    func lockTimeout() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let holder = try db.connect()
        try holder.execute("CREATE TABLE locked (id int)")
        try holder.execute("BEGIN")
        try holder.execute("LOCK TABLE locked IN ACCESS EXCLUSIVE MODE")
        let client = PostgresClient(
            configuration: .init(
                conninfo: db.url, maxConnections: 1,
                session: SessionSettings(statementTimeoutMilliseconds: 2_000, lockTimeoutMilliseconds: 300))
        )
        defer { client.shutdown() }
        // 55P03 is lock_timeout itself; a hang would have ended in the 2 s statement_timeout (57014).
        await #expect {
            try await client.query("SELECT count(*) FROM locked WHERE id > \(0)")
        } throws: { error in
            (error as? PostgresError)?.isTimeout == true && (error as? PostgresError)?.sqlState == "55P03"
        }
        try holder.execute("ROLLBACK")
        #expect(try await client.query("SELECT count(*) AS n FROM locked WHERE id > \(0)")[0].decode("n", as: Int.self) == 0)
    }

    @Test("a statement running past statement_timeout is cancelled with a typed timeout")
    func statementTimeout() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let client = PostgresClient(
            configuration: .init(conninfo: db.url, maxConnections: 1, session: SessionSettings(statementTimeoutMilliseconds: 200))
        )
        defer { client.shutdown() }
        await #expect {
            try await client.query("SELECT pg_sleep(\(5))")
        } throws: { error in
            (error as? PostgresError)?.isTimeout == true
        }
    }

    @Test("a RetryableConflict reruns the whole transaction; it surfaces once attempts run out")
    func retryableConflict() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let connection = try db.connect()
        var attempts = 0
        let value = try connection.transaction { _ -> Int in
            attempts += 1
            if attempts < 3 { throw RetryableConflict("simulated") }
            return attempts
        }
        #expect(value == 3)
        #expect(throws: RetryableConflict.self) {
            try connection.transaction(maxAttempts: 2) { _ -> Int in throw RetryableConflict("always") }
        }
        #expect(!connection.isInTransaction)
    }

    @Test("an embedded fragment's placeholders are renumbered after the outer query's binds")
    func fragments() async throws {
        let inner: PostgresQuery = "jsonb_build_object('a', \(7)::int, 'b', \("x")::text)"
        let outer: PostgresQuery = "SELECT \(1)::int AS first, \(fragment: inner) AS obj, \("last")::text AS last"
        #expect(outer.sql == "SELECT $1::int AS first, jsonb_build_object('a', $2::int, 'b', $3::text) AS obj, $4::text AS last")
        let db = try await TestDatabase.make(migrated: false)
        let row = try db.connect().query(outer)[0]
        #expect(try row.decode("obj", as: String.self) == #"{"a": 7, "b": "x"}"#)
        #expect(try row.decode("last", as: String.self) == "last")
    }

    @Test("LISTEN waits with poll(): a notification arrives on a socket numbered above 1024")
    func pollBeyondFDSetSize() async throws {
        let db = try await TestDatabase.make(migrated: false)
        // Push the next descriptors past FD_SETSIZE, as many idle client sockets would.
        var filler: [Int32] = []
        defer { filler.forEach { close($0) } }
        while filler.last.map({ $0 < 1100 }) ?? true {
            let fd = open("/dev/null", O_RDONLY)
            guard fd >= 0 else { break }
            filler.append(fd)
        }
        try #require((filler.last ?? 0) >= 1100, "could not raise the descriptor count (ulimit -n)")
        let listener = try db.connect()
        try listener.execute("LISTEN hardening")
        try db.connect().execute("NOTIFY hardening, 'hello'")
        let heard = try listener.waitForNotifications(timeoutMilliseconds: 2_000)
        #expect(heard == [PostgresConnection.Notification(channel: "hardening", payload: "hello")])
    }
}
