import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import StableIDAPI
import TestSupport
import Testing

/// A freshly started server before its read model is live (issue #23): not ready, and batches to
/// PostgreSQL bounded. The warm-up is held back deterministically by a lock on `identities` that
/// the test owns, so "warming" lasts exactly as long as the test needs it.
@Suite("Restarts: ready once warm, batches shed while cold", .timeLimit(.minutes(2)))
struct WarmupReadinessTests {
    /// Holds an ACCESS EXCLUSIVE lock on `identities` until `release()`: the warm-up's first page
    /// (and every lookup that reaches PostgreSQL) waits behind it.
    final class IdentitiesLock: @unchecked Sendable {
        let connection: PostgresConnection

        init(_ db: TestDatabase) throws {
            connection = try db.connect()
            try connection.execute("BEGIN")
            try connection.execute("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE")
        }

        func release() throws { try connection.execute("COMMIT") }
    }

    static func eventually(within limit: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(25))
        }
        return false
    }

    @Test("/readyz answers 503 warming, with progress, until the lookup cache is live; then 200")
    func notReadyWhileWarming() async throws {
        let f = try await APIFixture.make()
        let lock = try IdentitiesLock(f.db)
        try await f.test { client in
            let warming = try await client.call(.get, "/readyz")
            #expect(warming.status == 503)
            #expect(warming.json["status"] as? String == "warming", "\(warming)")
            #expect(warming.json["identities_loaded"] as? Int == 0)
            #expect(try await client.call(.get, "/healthz").status == 200)
            try lock.release()
            #expect(try await Self.eventually { try await client.call(.get, "/readyz").status == 200 })
        }
    }

    @Test("after the first warm-up, a stalled feed sends lookups to PostgreSQL but leaves the server ready")
    func readyAfterInterruption() async throws {
        let f = try await APIFixture.make()
        try await f.test { client in
            let ready = try await Self.eventually { try await client.call(.get, "/readyz").status == 200 }
            #expect(ready)
            // The feed's polls wait behind this lock: within its staleness bound the cache turns off.
            let lock = try f.db.connect()
            try lock.execute("BEGIN")
            try lock.execute("LOCK TABLE identity_changes IN ACCESS EXCLUSIVE MODE")
            let off = try await Self.eventually {
                let metrics = try await client.call(.get, "/metrics").text
                return metrics.split(separator: "\n").contains { $0.hasPrefix(#"stableid_lookup_cache_state{state="live"} 0"#) }
            }
            #expect(off, "the lookup cache never left live")
            let reply = try await client.call(.get, "/readyz")
            #expect(reply.status == 200, "\(reply)")
            try lock.execute("COMMIT")
        }
    }

    @Test("STABLEID_READY_BEFORE_WARM: ready as soon as the database is, while the cache still warms")
    func readyBeforeWarm() async throws {
        let f = try await APIFixture.make()
        var configuration = f.configuration
        configuration.readyBeforeWarm = true
        let lock = try IdentitiesLock(f.db)
        defer { try? lock.release() }
        try await f.app(configuration: configuration).test(.router) { client in
            let ready = try await Self.eventually { try await client.call(.get, "/readyz").status == 200 }
            #expect(ready)
        }
    }

    @Test("while cold, batches beyond the bound answer 503 overloaded with Retry-After at once; the admitted ones answer")
    func coldBatchesAreShed() async throws {
        let f = try await APIFixture.make()
        var configuration = f.configuration
        configuration.coldBatchesInFlight = 1
        let lock = try IdentitiesLock(f.db)
        let token = try #require(f.tokens[.resolve])
        let body = #"{"items":[{"pool":"us-east-1_Old","sub":"5e2e5e2e-0000-4000-8000-000000000001"}]}"#
        let replies = try await f.app(configuration: configuration).test(.router) { client in
            try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<6 {
                    group.addTask { try await client.call(.post, "/v1/resolve", token: token, json: body) }
                }
                var replies: [Reply] = []
                for try await reply in group {
                    replies.append(reply)
                    // The shed ones come back while the admitted one waits on the lock: let it go.
                    if replies.count == 5 { try lock.release() }
                }
                return replies
            }
        }
        let shed = replies.filter { $0.status == 503 && $0.code == "overloaded" }
        #expect(shed.count == 5, "\(replies)")
        #expect(shed.allSatisfy { $0.headers[.retryAfter] == "1" && $0.isProblem })
        #expect(replies.filter { $0.status == 200 }.count == 1, "\(replies)")
    }
}
