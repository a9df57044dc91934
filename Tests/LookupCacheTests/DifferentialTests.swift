import Foundation
import IdentityMap
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import LookupCache

/// SplitMix64: a seeded generator, so a failing run can be repeated with `STABLEID_TEST_SEED`.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The users created so far, shared by concurrent operations.
final class KnownUsers: Sendable {
    private let ids = Mutex<[UUID]>([])

    func add(_ id: UUID) { ids.withLock { $0.append(id) } }
    var all: [UUID] { ids.withLock { $0 } }
}

@Suite("Two replicas against random writes")
struct DifferentialTests {
    /// Random operations through the store (and a few by hand, as other writers would), four at a
    /// time so commits interleave; whatever the map refuses is simply skipped.
    static func randomWrites(
        _ f: MapFixture, names: [String], users: KnownUsers, rounds: Int, generator: inout SeededGenerator
    ) async throws {
        for round in 0..<rounds {
            var operations: [@Sendable () async throws -> Void] = []
            for slot in 0..<4 {
                let kind = Int.random(in: 0..<8, using: &generator)
                let name = names.randomElement(using: &generator)!
                let pool = Bool.random(using: &generator) ? f.old : f.new
                let known = users.all
                let flip = Bool.random(using: &generator)
                let someone = known.randomElement(using: &generator)
                let other = known.randomElement(using: &generator)
                let tag = "\(round)-\(slot)"
                operations.append {
                    switch kind {
                    case 0:
                        let identities = try [f.identity(pool, name, username: "u-\(name)-\(tag)")]
                        let user = try await f.map.createUser(identities: identities, attribution: f.by).run(on: f.db.database)
                        users.add(user.id)
                    case 1, 2:
                        guard let someone else { return }
                        _ = try await f.map.link(try f.identity(pool, name, username: "u-\(name)-\(tag)"), to: someone, attribution: f.by)
                            .run(on: f.db.database)
                    case 3:
                        guard let owner = try await f.map.resolve(.pool(pool, sub: testSub(name)))?.userID else { return }
                        _ = try await f.map.unlink(pool: pool, sub: testSub(name), from: owner, attribution: f.by).run(on: f.db.database)
                    case 4:
                        guard let someone, let other, someone != other else { return }
                        _ = try await f.map.merge(someone, into: other, attribution: f.by).run(on: f.db.database)
                    case 5:
                        guard let someone else { return }
                        let status = flip ? "deleted" : "active"
                        try f.db.connect().execute("UPDATE users SET status = \(status) WHERE id = \(someone) AND status <> 'merged'")
                    case 6:
                        try f.db.connect().execute(
                            """
                            UPDATE identities SET status = CASE status WHEN 'active' THEN 'disabled' ELSE 'active' END
                            WHERE pool_id = \(pool.rawValue) AND sub = \(testSub(name)) AND status IN ('active', 'disabled')
                            """
                        )
                    default:
                        try f.db.connect().execute(
                            """
                            UPDATE identities SET email = \("\(tag)@example.com"), username = \("v-\(name)-\(tag)")
                            WHERE pool_id = \(pool.rawValue) AND sub = \(testSub(name))
                            """
                        )
                    }
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for operation in operations {
                    group.addTask { _ = try? await operation() }
                }
            }
        }
    }

    @Test("after random links, unlinks, merges and status changes, both replicas answer exactly what PostgreSQL answers")
    func replicasAgree() async throws {
        let seed = ProcessInfo.processInfo.environment["STABLEID_TEST_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 0...UInt64.max)
        var generator = SeededGenerator(state: seed)
        let f = try await MapFixture.make(maxConnections: 12)
        let names = (0..<24).map { "d\($0)" }
        let users = KnownUsers()
        for index in 0..<6 {
            let user = try await f.user(try f.identity(index % 2 == 0 ? f.old : f.new, names[index]))
            users.add(user.id)
        }
        // One replica LISTENs, the other polls as it would against a hot standby.
        let listening = Replica.start(url: f.db.url, configuration: .forTests(listen: true))
        let polling = Replica.start(url: f.db.url, configuration: .forTests(listen: false))

        for checkpoint in 0..<3 {
            try await Self.randomWrites(f, names: names, users: users, rounds: 15, generator: &generator)
            for (label, replica) in [("listening", listening), ("polling", polling)] {
                try await replica.caughtUp()
                try await f.expectSameAnswers(replica, names + ["never"], "seed \(seed), checkpoint \(checkpoint), \(label):")
            }
        }
        await listening.stop()
        await polling.stop()
    }
}
