import CryptoPrimitives
import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import StableIDAPI

/// Unknown bearer tokens at flood rates (issue #18): refused without the database when their
/// checksum is wrong, remembered when the database said no, and checked a bounded number at a
/// time otherwise, so a flood cannot take the connections valid clients need.
@Suite("Unknown tokens and floods", .timeLimit(.minutes(3)))
struct TokenFloodTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    /// Shaped like a token made before checksums: passes the shape check, only the database can say no.
    /// A key that is not the installation's: tokens made with it are what someone who read the
    /// code, but not the database, can make.
    static let otherKey = TokenChecksumKey(bytes: SecureRandom.bytes(count: 32))

    static func legacyShaped() -> String {
        "sid_" + String((0..<43).map { _ in alphabet.randomElement()! })
    }

    /// A pool of its own with a short acquire timeout (an exhausted pool shows as 503 within a
    /// second) and a lock timeout as a safety net, so a failing test cannot hang on the lock below.
    static func database(_ f: APIFixture, maxConnections: Int) -> Database {
        Database(
            primary: PostgresClient(
                configuration: .init(
                    conninfo: f.db.url, maxConnections: maxConnections, acquireTimeout: .seconds(1),
                    session: SessionSettings(lockTimeoutMilliseconds: 30_000)
                )
            )
        )
    }

    /// Holds `api_tokens` locked, so every token check that reaches the database waits.
    static func lockTokens(_ f: APIFixture) throws -> PostgresConnection {
        let locker = try f.db.connect()
        try locker.execute("BEGIN")
        try locker.execute("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE")
        return locker
    }

    static func insertToken(_ f: APIFixture, name: String, secret: TokenSecret, scopes: String = "{resolve}") throws {
        try f.db.connect().execute(
            "INSERT INTO api_tokens (id, name, token_hash, scopes) VALUES (gen_random_uuid(), \(name), \(PostgresBytes(secret.hash)), \(scopes)::text[])"
        )
    }

    final class Counter: Sendable {
        private let value = Mutex(0)
        func add() { value.withLock { $0 += 1 } }
        var count: Int { value.withLock { $0 } }
    }

    @Test(
        "64 tasks × 10 made-up tokens while token checks hang: at most the bound reach the database (401), the rest are shed (503 with Retry-After), a valid client never sees 503"
    )
    func flood() async throws {
        let f = try await APIFixture.make()
        // 6 connections, 2 of which the flood may hold: the valid client's lookups, the sealer and
        // housekeeping share the other 4. Without the bound every connection would wait on the lock
        // and the valid client's lookups would answer 503 after the 1 s acquire timeout.
        let bound = 2
        let database = Self.database(f, maxConnections: 6)
        defer { database.shutdown() }
        let authenticator = TokenAuthenticator(store: TokenStore(database: database), maxUnvouchedChecks: bound)
        let resolver = f.tokens[.resolve]!
        // `strong` asks PostgreSQL: every valid lookup needs a connection of the pool.
        let lookup = "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("nobody"))&consistency=strong"
        let (tasks, perTask) = (64, 10)
        try await f.app(database: database, authenticator: authenticator).test(.router) { client in
            // The valid token must be answered from the cache while api_tokens is locked, so wait
            // for the revocation listener to switch the cache on.
            let ready = ContinuousClock.now + .seconds(20)
            while !authenticator.isCacheEnabled, ContinuousClock.now < ready { try await Task.sleep(for: .milliseconds(20)) }
            try #require(authenticator.isCacheEnabled)
            #expect(try await client.call(.get, lookup, token: resolver).status == 404)

            let locker = try Self.lockTokens(f)
            defer { _ = try? locker.execute("ROLLBACK") }
            let finished = Counter()
            async let flooded: [Reply] = withThrowingTaskGroup(of: [Reply].self) { group in
                for _ in 0..<tasks {
                    group.addTask {
                        var replies: [Reply] = []
                        for _ in 0..<perTask {
                            replies.append(try await client.call(.get, lookup, token: Self.legacyShaped()))
                        }
                        finished.add()
                        return replies
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
            // The valid client runs alongside the flood, and on after every task but the ones
            // whose checks hold the bounded slots has finished.
            var valid: [Int] = []
            let deadline = ContinuousClock.now + .seconds(60)
            while finished.count < tasks - bound, ContinuousClock.now < deadline {
                valid.append(try await client.call(.get, lookup, token: resolver).status)
            }
            for _ in 0..<20 {
                valid.append(try await client.call(.get, lookup, token: resolver).status)
            }
            // Exactly `bound` checks wait on the lock; every other made-up token was shed at once.
            #expect(finished.count == tasks - bound)
            #expect(authenticator.unvouchedChecksInFlight == bound)
            _ = try locker.execute("ROLLBACK")

            let replies = try await flooded
            #expect(replies.count == tasks * perTask)
            #expect(
                replies.allSatisfy { ($0.status == 401 && $0.code == "unauthorized") || ($0.status == 503 && $0.code == "overloaded") },
                "\(Set(replies.map(\.status)))")
            let shed = replies.filter { $0.status == 503 }
            #expect(shed.count >= (tasks - bound) * (perTask - 1), "\(shed.count) shed")
            #expect(shed.allSatisfy { $0.headers[.retryAfter] == "1" })
            #expect(!valid.isEmpty && valid.allSatisfy { $0 == 404 }, "\(Set(valid))")
            #expect(authenticator.unvouchedChecksInFlight == 0)
        }
    }

    @Test(
        "unknown, revoked, malformed and made-up tokens (a checksum under another key) answer 401, never 503; a token made before checksums still works"
    )
    func unknownTokens() async throws {
        let f = try await APIFixture.make()
        let legacy = TokenSecret(Self.legacyShaped())
        try Self.insertToken(f, name: "legacy", secret: legacy)
        var characters = Array(f.tokens[.resolve]!)
        characters[10] = characters[10] == "A" ? "B" : "A"
        let flipped = String(characters)
        let lookup = "/v1/resolve?pool=us-east-1_Old&sub=\(testSub("nobody"))"
        try await f.test { client in
            #expect(try await client.call(.get, lookup, token: legacy.value).status == 404)
            let unknown = Self.legacyShaped()
            for token in [
                unknown, unknown, unknown, Self.legacyShaped(), TokenSecret.generate(key: Self.otherKey).value, flipped, f.revokedToken,
                "sid_x",
            ] {
                let reply = try await client.call(.get, lookup, token: token)
                #expect(reply.status == 401 && reply.code == "unauthorized" && reply.isProblem, "\(token): \(reply)")
            }
        }
    }

    @Test("an unknown token is remembered for the negative TTL; a token made through this server is forgotten at once")
    func negativeCache() async throws {
        let f = try await APIFixture.make()
        let authenticator = TokenAuthenticator(store: TokenStore(database: f.db.database), unknownTTL: .seconds(3))

        let key = try await TokenStore(database: f.db.database).checksumKey()
        let madeHere = TokenSecret.generate(key: key)
        #expect(try await authenticator.authenticate(madeHere) == .unknown)
        try Self.insertToken(f, name: "made-here", secret: madeHere)
        // Remembered: the database is not asked again within the TTL.
        #expect(try await authenticator.authenticate(madeHere) == .unknown)
        authenticator.tokenCreated(madeHere)
        guard case .authenticated(let token) = try await authenticator.authenticate(madeHere) else {
            Issue.record("a token made through this server must authenticate at once")
            return
        }
        #expect(token.name == "made-here")

        let madeElsewhere = TokenSecret.generate(key: key)
        #expect(try await authenticator.authenticate(madeElsewhere) == .unknown)
        try Self.insertToken(f, name: "made-elsewhere", secret: madeElsewhere)
        try await Task.sleep(for: .milliseconds(3_300))
        guard case .authenticated = try await authenticator.authenticate(madeElsewhere) else {
            Issue.record("a token made elsewhere must authenticate once the negative TTL has passed")
            return
        }
    }

    @Test("the bound sheds only unvouched legacy-shaped tokens: a legacy token seen valid and a checksummed one are still checked")
    func boundIsForUnvouchedOnly() async throws {
        let f = try await APIFixture.make()
        let database = Self.database(f, maxConnections: 8)
        defer { database.shutdown() }
        // Never connected to a listener: the cache is off, so every check asks the database.
        let authenticator = TokenAuthenticator(store: TokenStore(database: database), maxUnvouchedChecks: 1)
        let legacy = TokenSecret(Self.legacyShaped())
        try Self.insertToken(f, name: "legacy", secret: legacy)
        guard case .authenticated = try await authenticator.authenticate(legacy) else {
            Issue.record("the legacy token must authenticate")
            return
        }

        let locker = try Self.lockTokens(f)
        defer { _ = try? locker.execute("ROLLBACK") }
        let stuck = Task { try await authenticator.authenticate(TokenSecret(Self.legacyShaped())) }
        let ready = ContinuousClock.now + .seconds(10)
        while authenticator.unvouchedChecksInFlight < 1, ContinuousClock.now < ready { try await Task.sleep(for: .milliseconds(10)) }
        #expect(authenticator.unvouchedChecksInFlight == 1)
        // The slot is taken: another unvouched legacy-shaped token is shed without a query.
        #expect(try await authenticator.authenticate(TokenSecret(Self.legacyShaped())) == .shed)
        // These wait on the lock like any check, but are not shed.
        let vouched = Task { try await authenticator.authenticate(legacy) }
        let resolveToken = TokenSecret(f.tokens[.resolve]!)
        let checksummed = Task { try await authenticator.authenticate(resolveToken) }
        try await Task.sleep(for: .milliseconds(200))
        _ = try locker.execute("ROLLBACK")

        #expect(try await stuck.value == .unknown)
        guard case .authenticated = try await vouched.value, case .authenticated = try await checksummed.value else {
            Issue.record("a vouched legacy token and a checksummed token are checked, not shed")
            return
        }
        #expect(authenticator.unvouchedChecksInFlight == 0)
    }

    @Test("a burst of requests with one legacy token not yet seen shares one check: none is shed")
    func burstSharesOneCheck() async throws {
        let f = try await APIFixture.make()
        let database = Self.database(f, maxConnections: 8)
        defer { database.shutdown() }
        let authenticator = TokenAuthenticator(store: TokenStore(database: database), maxUnvouchedChecks: 1)
        let legacy = TokenSecret(Self.legacyShaped())
        try Self.insertToken(f, name: "legacy-burst", secret: legacy)
        // Held on the lock, so every request of the burst arrives while the first check is running.
        let locker = try Self.lockTokens(f)
        defer { _ = try? locker.execute("ROLLBACK") }
        let burst = (0..<20).map { _ in Task { try await authenticator.authenticate(legacy) } }
        let ready = ContinuousClock.now + .seconds(10)
        while authenticator.unvouchedChecksInFlight < 1, ContinuousClock.now < ready { try await Task.sleep(for: .milliseconds(10)) }
        _ = try locker.execute("ROLLBACK")
        for request in burst {
            guard case .authenticated = try await request.value else {
                Issue.record("a request of the burst was not authenticated")
                return
            }
        }
        #expect(authenticator.unvouchedChecksInFlight == 0)
    }

    @Test("the negative cache stays within its capacity and forgets on remove")
    func unknownTokenCacheBounds() {
        var cache = UnknownTokenCache(capacity: 8)
        let now = ContinuousClock.now
        let later = now + .seconds(10)
        for n in 0..<100 { cache.insert([UInt8(n)], until: later) }
        #expect(cache.count <= 8)
        // The newest entries are kept; the oldest went with their generation.
        #expect(cache.contains([99], at: now) && !cache.contains([0], at: now))
        #expect(!cache.contains([99], at: later))
        cache.remove([99])
        #expect(!cache.contains([99], at: now))
        cache.insert([1, 2], until: now)
        #expect(!cache.contains([1, 2], at: now))
    }
}
