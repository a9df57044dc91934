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

/// How the random operations fared, per kind. Many are refused by design (a sub already linked,
/// a user merged meanwhile); a run in which every write failed would still find the replicas
/// agreeing — on the seed users alone — so the test counts what succeeded and fails on anything
/// that is not a refusal.
final class OperationTally: Sendable {
    enum Kind: String, Sendable, CaseIterable {
        case create, link, unlink, merge, userStatus, identityStatus, identityText
    }

    private struct Counts {
        var done: [Kind: Int] = [:]
        var refused: [Kind: Int] = [:]
        var unexpected: [String] = []
    }
    private let counts = Mutex(Counts())

    func done(_ kind: Kind) { counts.withLock { $0.done[kind, default: 0] += 1 } }
    func refused(_ kind: Kind) { counts.withLock { $0.refused[kind, default: 0] += 1 } }
    func unexpected(_ kind: Kind, _ error: any Error) { counts.withLock { $0.unexpected.append("\(kind.rawValue): \(error)") } }

    func succeeded(_ kind: Kind) -> Int { counts.withLock { $0.done[kind] ?? 0 } }
    var unexpectedErrors: [String] { counts.withLock { $0.unexpected } }
    var summary: String {
        counts.withLock { counts in
            Kind.allCases.map { "\($0.rawValue) \(counts.done[$0] ?? 0) done, \(counts.refused[$0] ?? 0) refused" }
                .joined(separator: "; ")
        }
    }

    /// The map's rules or the database said no (a constraint, a deadlock or serialization failure
    /// after the retries): what concurrent random writes are expected to meet.
    static func isRefusal(_ error: any Error) -> Bool {
        switch error {
        case is IdentityMapError, is RetryableConflict: return true
        case let error as PostgresError: return error.isSerializationFailure || error.sqlState?.hasPrefix("23") == true
        default: return false
        }
    }
}

@Suite("Two replicas against random writes", .timeLimit(.minutes(5)))
struct DifferentialTests {
    typealias Operation = (kind: OperationTally.Kind, run: @Sendable () async throws -> Bool)

    /// Random operations through the store (and a few by hand, as other writers would), four at a
    /// time so commits interleave. Each answers whether it changed something (false: it found
    /// nothing to act on); what the map refuses is counted as refused, anything else is an issue.
    static func randomWrites(
        _ f: MapFixture, names: [String], users: KnownUsers, rounds: Int, tally: OperationTally, generator: inout SeededGenerator
    ) async throws {
        for round in 0..<rounds {
            var operations: [Operation] = []
            for slot in 0..<4 {
                // Unlinks and merges are drawn twice as often as the rest: they are refused most
                // (no owner to unlink from, a user merged or deleted), and must still happen.
                let kind = Int.random(in: 0..<10, using: &generator)
                let name = names.randomElement(using: &generator)!
                let pool = Bool.random(using: &generator) ? f.old : f.new
                let known = users.all
                let flip = Bool.random(using: &generator)
                let someone = known.randomElement(using: &generator)
                let other = known.randomElement(using: &generator)
                let tag = "\(round)-\(slot)"
                switch kind {
                case 0:
                    operations.append(
                        (
                            .create,
                            {
                                let identities = try [f.identity(pool, name, username: "u-\(name)-\(tag)")]
                                let user = try await f.map.createUser(identities: identities, attribution: f.by).run(on: f.db.database)
                                users.add(user.id)
                                return true
                            }
                        ))
                case 1, 2:
                    operations.append(
                        (
                            .link,
                            {
                                guard let someone else { return false }
                                let identity = try f.identity(pool, name, username: "u-\(name)-\(tag)")
                                _ = try await f.map.link(identity, to: someone, attribution: f.by).run(on: f.db.database)
                                return true
                            }
                        ))
                case 3, 9:
                    operations.append(
                        (
                            .unlink,
                            {
                                guard let owner = try await f.map.resolve(.pool(pool, sub: testSub(name)))?.userID else { return false }
                                let unlink = f.map.unlink(pool: pool, sub: testSub(name), from: owner, attribution: f.by)
                                _ = try await unlink.run(on: f.db.database)
                                return true
                            }
                        ))
                case 4, 8:
                    operations.append(
                        (
                            .merge,
                            {
                                guard let someone, let other, someone != other else { return false }
                                _ = try await f.map.merge(someone, into: other, attribution: f.by).run(on: f.db.database)
                                return true
                            }
                        ))
                case 5:
                    operations.append(
                        (
                            .userStatus,
                            {
                                guard let someone else { return false }
                                let status = flip ? "deleted" : "active"
                                return try f.db.connect().execute(
                                    "UPDATE users SET status = \(status) WHERE id = \(someone) AND status <> 'merged'") > 0
                            }
                        ))
                case 6:
                    operations.append(
                        (
                            .identityStatus,
                            {
                                try f.db.connect().execute(
                                    """
                                    UPDATE identities SET status = CASE status WHEN 'active' THEN 'disabled' ELSE 'active' END
                                    WHERE pool_id = \(pool.rawValue) AND sub = \(testSub(name)) AND status IN ('active', 'disabled')
                                    """
                                ) > 0
                            }
                        ))
                default:
                    operations.append(
                        (
                            .identityText,
                            {
                                try f.db.connect().execute(
                                    """
                                    UPDATE identities SET email = \("\(tag)@example.com"), username = \("v-\(name)-\(tag)")
                                    WHERE pool_id = \(pool.rawValue) AND sub = \(testSub(name))
                                    """
                                ) > 0
                            }
                        ))
                }
            }
            await withTaskGroup(of: Void.self) { group in
                for operation in operations {
                    group.addTask {
                        do {
                            if try await operation.run() { tally.done(operation.kind) }
                        } catch let error where OperationTally.isRefusal(error) {
                            tally.refused(operation.kind)
                        } catch {
                            tally.unexpected(operation.kind, error)
                        }
                    }
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
        let tally = OperationTally()
        for index in 0..<6 {
            let user = try await f.user(try f.identity(index % 2 == 0 ? f.old : f.new, names[index]))
            users.add(user.id)
        }
        // One replica LISTENs, the other polls as it would against a hot standby.
        let listening = Replica.start(url: f.db.url, configuration: .forTests(listen: true))
        let polling = Replica.start(url: f.db.url, configuration: .forTests(listen: false))

        for checkpoint in 0..<3 {
            try await Self.randomWrites(f, names: names, users: users, rounds: 15, tally: tally, generator: &generator)
            for (label, replica) in [("listening", listening), ("polling", polling)] {
                try await replica.caughtUp()
                try await f.expectSameAnswers(replica, names + ["never"], "seed \(seed), checkpoint \(checkpoint), \(label):")
            }
        }
        await listening.stop()
        await polling.stop()
        // The replicas were compared after real changes: writes of every kind went through (180
        // operations, about 36 each of links, unlinks and merges), and nothing failed but refusals.
        #expect(tally.unexpectedErrors.isEmpty, "seed \(seed): \(tally.unexpectedErrors)")
        let (links, unlinks, merges) = (tally.succeeded(.link), tally.succeeded(.unlink), tally.succeeded(.merge))
        #expect(links >= 3 && unlinks >= 1 && merges >= 1, "seed \(seed): \(tally.summary)")
        #expect(tally.succeeded(.create) + links + unlinks + merges >= 15, "seed \(seed): \(tally.summary)")
    }
}
