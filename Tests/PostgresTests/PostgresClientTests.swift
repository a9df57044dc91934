import Foundation
import IdentityMap
import Postgres
import Synchronization
import TestSupport
import Testing

@Suite("Postgres pool", .timeLimit(.minutes(3)))
struct PostgresClientTests {
    @Test("the pool bounds connections and serves many concurrent callers")
    func boundedConcurrency() async throws {
        let db = try await TestDatabase.make(maxConnections: 4)
        // 200 callers queue for 4 connections: a generous acquire timeout, since the suite shares
        // two cores (the bound itself is what this test checks, not the speed).
        let client = PostgresClient(configuration: .init(conninfo: db.url, maxConnections: 4, acquireTimeout: .seconds(60)))
        defer { client.shutdown() }
        let total = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<200 {
                group.addTask {
                    try await client.withConnection { try $0.query("SELECT \(i)::int AS n")[0].decode("n", as: Int.self) }
                }
            }
            return try await group.reduce(0, +)
        }
        #expect(total == (0..<200).reduce(0, +))
        let stats = client.statistics
        #expect(stats.open <= 4)
        #expect(stats.leased == 0)
        #expect(stats.leases == 200, "every withConnection is one lease")
        let backends = try db.rows(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'stableid' AND pid <> pg_backend_pid()"
        )
        #expect(try backends[0].decode("n", as: Int.self) <= 4)
    }

    @Test("a killed backend is replaced on the next use")
    func replacesBrokenConnections() async throws {
        let db = try await TestDatabase.make(maxConnections: 1)
        let client = db.database.primary
        let pid: Int = try await client.withConnection { try $0.query("SELECT pg_backend_pid() AS pid")[0].decode("pid") }
        try db.connect().execute("SELECT pg_terminate_backend(\(pid))")
        // The first use may fail on the dead socket; the pool must recover right after.
        _ = try? await client.query("SELECT 1")
        let newPID: Int = try await client.withConnection { try $0.query("SELECT pg_backend_pid() AS pid")[0].decode("pid") }
        #expect(newPID != pid)
    }

    @Test("an unreachable database gives a typed connection error")
    func unreachable() async throws {
        let client = PostgresClient(configuration: .init(conninfo: "postgresql://postgres@127.0.0.1:1/none", connectTimeoutSeconds: 2))
        await #expect {
            try await client.query("SELECT 1")
        } throws: { error in
            (error as? PostgresError)?.isUnavailable == true
        }
    }

    @Test("callers wait for a busy pool and time out with poolExhausted")
    func acquireTimeout() async throws {
        let db = try await TestDatabase.make(migrated: false)
        let client = PostgresClient(configuration: .init(conninfo: db.url, maxConnections: 1, acquireTimeout: .milliseconds(200)))
        defer { client.shutdown() }
        // The one connection is held until the test lets go: its body waits for an advisory lock
        // the test holds, so the pool stays busy however slowly this machine runs.
        let gate = try db.connect()
        try gate.execute("SELECT pg_advisory_lock(4242)")
        let holder = Task { try await client.withConnection { _ = try $0.query("SELECT pg_advisory_lock(4242)") } }
        let busy = try await waitUntil(within: .seconds(30)) { client.statistics.leased == 1 }
        #expect(busy, "the holder never took the pool's connection")
        if busy {
            await #expect {
                try await client.query("SELECT 1")
            } throws: { error in
                (error as? PostgresError)?.kind == .poolExhausted
            }
        }
        try gate.execute("SELECT pg_advisory_unlock(4242)")
        try await holder.value
        #expect(try await client.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
    }

    @Test("a failed body inside a transaction leaves no open transaction behind")
    func rollsBackAbandonedWork() async throws {
        let db = try await TestDatabase.make(maxConnections: 1)
        let client = db.database.primary
        await #expect(throws: (any Error).self) {
            try await client.withConnection { connection in
                try connection.execute("BEGIN")
                try connection.execute("INSERT INTO pools (id, region, issuer) VALUES ('us-east-1_Z', 'us-east-1', 'https://z')")
                throw CancellationError()
            }
        }
        let inTransaction = try await client.withConnection { $0.isInTransaction }
        #expect(!inTransaction)
        #expect(try db.count("pools") == 0)
    }
}
