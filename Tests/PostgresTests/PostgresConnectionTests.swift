import Foundation
import Postgres
import TestSupport
import Testing

@Suite("Postgres connection", .timeLimit(.minutes(3)))
struct PostgresConnectionTests {
    @Test("interpolated values are bound parameters, never SQL text")
    func bindsParameters() async throws {
        let db = try await TestDatabase.make()
        let connection = try db.connect()
        let hostile = "x'); DROP TABLE users; --"
        let query: PostgresQuery = "SELECT \(hostile)::text AS v, \(42) AS n"
        #expect(query.sql == "SELECT $1::text AS v, $2 AS n")
        let row = try connection.query(query)[0]
        #expect(try row.decode("v", as: String.self) == hostile)
        #expect(try row.decode("n", as: Int.self) == 42)
        #expect(try db.count("users") == 0)  // the table still exists
    }

    @Test("typed decoding of text, integers, bool, uuid, timestamptz, bytea, jsonb, arrays and NULL")
    func decodesTypes() async throws {
        let db = try await TestDatabase.make()
        let connection = try db.connect()
        let id = UUID()
        let when = Date(timeIntervalSince1970: 1_790_000_000.123456)
        let bytes = PostgresBytes([0, 1, 0xfe, 0xff])
        let row = try connection.query(
            """
            SELECT \(id)::uuid AS id, \(when)::timestamptz AS at, \(bytes)::bytea AS raw,
                   \(true)::bool AS yes, \(Int64.max)::bigint AS big, NULL::text AS nothing,
                   '{"b":1,"a":[true,null]}'::jsonb AS doc, \(PostgresArray(["a", "b,c", "d\"e", "f\\g"]))::text[] AS list
            """
        )[0]
        #expect(try row.decode("id", as: UUID.self) == id)
        let decoded: Date = try row.decode("at")
        #expect(abs(decoded.timeIntervalSince1970 - when.timeIntervalSince1970) < 0.000_002)
        #expect(try row.decode("raw", as: PostgresBytes.self) == bytes)
        #expect(try row.decode("yes", as: Bool.self))
        #expect(try row.decode("big", as: Int64.self) == .max)
        #expect(try row.decodeIfPresent("nothing", as: String.self) == nil)
        #expect(throws: PostgresError.self) { try row.decode("nothing", as: String.self) }
        #expect(try row.decode("doc", as: PostgresJSON.self).text == #"{"a": [true, null], "b": 1}"#)
        #expect(try row.decode("list", as: [String].self) == ["a", "b,c", "d\"e", "f\\g"])
        #expect(throws: PostgresError.self) { try row.decode("id", as: Int.self) }
    }

    @Test("server errors are typed by SQLSTATE and never carry bind values")
    func typedErrors() async throws {
        let db = try await TestDatabase.make()
        let connection = try db.connect()
        try connection.execute("INSERT INTO pools (id, region, issuer) VALUES ('us-east-1_A', 'us-east-1', 'https://x/secret-value-1')")
        do {
            try connection.execute(
                "INSERT INTO pools (id, region, issuer) VALUES (\("us-east-1_A"), 'us-east-1', \("https://x/secret-value-2"))")
            Issue.record("expected a unique violation")
        } catch let error as PostgresError {
            #expect(error.isUniqueViolation)
            #expect(error.constraint == "pools_pkey")
            #expect(!"\(error)".contains("secret-value"))
            #expect(!"\(error)".contains("us-east-1_A"))
        }
        do {
            try connection.query("SELECT \("not-a-uuid-secret")::uuid")
            Issue.record("expected invalid input")
        } catch let error as PostgresError {
            #expect(error.sqlState == "22P02")
            #expect(!"\(error)".contains("secret"))
        }
        // The connection stays usable after errors.
        #expect(try connection.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
    }

    @Test("COPY FROM STDIN loads rows with tabs, newlines, backslashes and NULLs intact")
    func copyIn() async throws {
        let db = try await TestDatabase.make()
        let connection = try db.connect()
        try connection.execute("CREATE TEMP TABLE staging (a text, b text)")
        let rows: [[String?]] = (0..<20_000).map { i in ["row\t\(i)\n\\", i % 7 == 0 ? nil : "v\(i)"] }
        let loaded = try connection.copyFrom("COPY staging (a, b) FROM STDIN", rows: rows)
        #expect(loaded == 20_000)
        let check = try connection.query(
            "SELECT count(*) AS n, count(b) AS nb, max(a) FILTER (WHERE a LIKE 'row\t1\n%') AS one FROM staging")[0]
        #expect(try check.decode("n", as: Int.self) == 20_000)
        #expect(try check.decode("nb", as: Int.self) == 20_000 - (20_000 + 6) / 7)
        #expect(try check.decode("one", as: String.self) == "row\t1\n\\")
    }

    @Test("a failing COPY reports the server error and leaves the connection usable")
    func copyFailure() async throws {
        let db = try await TestDatabase.make()
        let connection = try db.connect()
        try connection.execute("CREATE TEMP TABLE numbers (n integer NOT NULL)")
        #expect(throws: PostgresError.self) {
            try connection.copyFrom("COPY numbers (n) FROM STDIN", rows: [["1"], ["not a number"]])
        }
        #expect(try connection.query("SELECT count(*) AS n FROM numbers")[0].decode("n", as: Int.self) == 0)
    }

    @Test("transactions roll back on error and retry serialization failures")
    func transactions() async throws {
        let db = try await TestDatabase.make()
        let connection = try db.connect()
        try connection.execute("CREATE TABLE counter (n integer)")
        try connection.execute("INSERT INTO counter VALUES (0)")
        #expect(throws: PostgresError.self) {
            try connection.transaction { tx in
                try tx.execute("UPDATE counter SET n = n + 1")
                try tx.execute("SELECT 1/0")
            }
        }
        #expect(try connection.query("SELECT n FROM counter")[0].decode("n", as: Int.self) == 0)
        var attempts = 0
        let value = try connection.transaction(isolation: .serializable) { tx -> Int in
            attempts += 1
            if attempts < 3 { throw PostgresError(kind: .server, sqlState: "40001", message: "simulated") }
            try tx.execute("UPDATE counter SET n = n + 1")
            return attempts
        }
        #expect(value == 3)
        #expect(try connection.query("SELECT n FROM counter")[0].decode("n", as: Int.self) == 1)
    }

    @Test("LISTEN receives NOTIFY from another connection")
    func notifications() async throws {
        let db = try await TestDatabase.make()
        let listener = try db.connect()
        try listener.execute("LISTEN test_channel")
        try db.connect().execute("SELECT pg_notify('test_channel', 'hello')")
        var received: [PostgresConnection.Notification] = []
        for _ in 0..<20 where received.isEmpty {
            received = try listener.waitForNotifications(timeoutMilliseconds: 100)
        }
        #expect(received == [.init(channel: "test_channel", payload: "hello")])
    }
}
