import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

@Suite("Lookup coalescing", .timeLimit(.minutes(3)))
struct ResolveCoalescerTests {
    @Test("500 concurrent lookups each get their own answer, through batches on one connection")
    func answersEachCaller() async throws {
        let f = try await MapFixture.make()
        var expected: [String: UUID] = [:]
        for i in 0..<50 {
            let user = try await f.user(try f.identity(i % 2 == 0 ? f.old : f.new, "sub-\(i)"))
            expected["sub-\(i)"] = user.id
        }
        let coalescer = ResolveCoalescer(store: f.map, maxConcurrentBatches: 1)
        let answers = try await withThrowingTaskGroup(of: (String, UUID?).self) { group in
            for n in 0..<500 {
                let i = n % 60  // 50 known subs, 10 unknown
                let reference: IdentityReference =
                    i % 3 == 0
                    ? .issuer(
                        "https://cognito-idp.\(i % 2 == 0 ? "us-east-1" : "eu-west-1").amazonaws.com/\(i % 2 == 0 ? "us-east-1_Old" : "eu-west-1_New")",
                        sub: testSub("sub-\(i)"))
                    : .pool(i % 2 == 0 ? f.old : f.new, sub: testSub("sub-\(i)"))
                group.addTask { ("sub-\(i)", try await coalescer.resolve(reference)?.userID) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers.count == 500)
        for (sub, userID) in answers {
            #expect(userID == expected[sub], "\(sub)")
        }
        // Batching really happened: far fewer statements than lookups would need one connection each.
        #expect(f.db.database.reader.statistics.open <= 2)
    }

    @Test("with the database down every waiting lookup fails promptly; none hangs")
    func failsWhenDown() async throws {
        let down = Database(
            primary: PostgresClient(configuration: .init(conninfo: "postgresql://postgres@127.0.0.1:1/x", connectTimeoutSeconds: 1)))
        let coalescer = ResolveCoalescer(store: IdentityMapStore(database: down))
        let failures = await withTaskGroup(of: Bool.self) { group in
            for i in 0..<50 {
                group.addTask {
                    do {
                        _ = try await coalescer.resolve(.pool(PoolID("us-east-1_X")!, sub: testSub("s\(i)")))
                        return false
                    } catch {
                        return isDatabaseUnavailable(error)
                    }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(failures == 50)
        // And it recovers: a later lookup starts a fresh batch (and fails the same typed way, not hangs).
        await #expect(throws: PostgresError.self) { try await coalescer.resolve(.pool(PoolID("us-east-1_X")!, sub: testSub("again"))) }
    }
}
