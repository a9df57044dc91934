import AuditTrail
import CryptoPrimitives
import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// Exports with chain positions, checked offline against signed checkpoints.
@Suite("Offline export verification", .timeLimit(.minutes(3)))
struct ExportVerifierTests {
    /// Every event of the fixture, exported as `stableid audit export --chain` writes it.
    func export(_ f: AuditFixture, filter: EventFilter = EventFilter()) async throws -> [String] {
        var lines: [String] = []
        for try await page in EventQuery(database: f.db.database).all(filter, pageSize: 5, withChain: true) {
            lines += page.map { EventExportFormat.ndjson.line($0, withChain: true) }
        }
        return lines
    }

    func check(
        _ lines: [String], _ checkpoints: [Checkpoint], key: [UInt8]?, allowUnsealed: Bool = false
    ) throws
        -> ExportVerifier.Report
    {
        try withTemporaryDirectory("export") { directory in
            let path = directory.appendingPathComponent("export.ndjson").path
            try Data(lines.joined().utf8).write(to: URL(fileURLWithPath: path))
            return try ExportVerifier.verify(fileAt: path, checkpoints: checkpoints, trustedKey: key, allowUnsealed: allowUnsealed)
        }
    }

    func publicKey(_ f: AuditFixture) throws -> [UInt8] { try Ed25519.publicKey(forPrivateKey: f.key) }

    /// Replaces one JSON field of one line (as an editor of the file would).
    func edit(_ line: String, _ change: (inout [String: Any]) -> Void) throws -> String {
        var object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        change(&object)
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self) + "\n"
    }

    @Test("an untouched export is anchored to its checkpoint; events after it are linked, not signed; unsealed ones are counted")
    func intact() async throws {
        let f = try await AuditFixture.make()
        let checkpoint = try Checkpoint.sign(head: try await f.chain.head(), privateKey: f.key)
        // Two more events: one sealed after the checkpoint, one still unsealed at export time.
        _ = try await PoolStore(database: f.db.database).add(id: PoolID("us-east-1_Later")!, attribution: .init(actor: .system)).run(
            on: f.db.database)
        _ = try await f.chain.sealAll()
        _ = try await PoolStore(database: f.db.database).add(id: PoolID("us-east-1_Unsealed")!, attribution: .init(actor: .system)).run(
            on: f.db.database)
        let lines = try await export(f)
        #expect(lines.count == Int(checkpoint.size) + 2)
        // An unsealed event proves nothing: refused unless allowed, and then only counted.
        let strict = try check(lines, [checkpoint], key: try publicKey(f))
        #expect(!strict.intact && strict.problems.map(\.kind) == [.unsealed], "\(strict.problems)")
        let report = try check(lines, [checkpoint], key: try publicKey(f), allowUnsealed: true)
        #expect(report.intact, "\(report.problems)")
        #expect(report.sealed == Int(checkpoint.size) + 1 && report.unsealed == 1 && report.segments == 1)
        #expect(report.anchored == Int(checkpoint.size) && report.beyondCheckpoints == 1 && report.checkpointsChecked == 1)
        // Personal data travel with their salt, so the digest is checked too.
        #expect(lines.contains { $0.contains("\"personal_salt\":\"") })
    }

    @Test("an edited detail, time, personal datum or hash is named by line and position")
    func edits() async throws {
        let f = try await AuditFixture.make()
        let checkpoint = try Checkpoint.sign(head: try await f.chain.head(), privateKey: f.key)
        let key = try publicKey(f)
        let lines = try await export(f)
        let personalLine = try #require(lines.firstIndex { $0.contains("\"personal\":{") })
        let edits: [(Int, (inout [String: Any]) -> Void)] = [
            (3, { $0["details"] = ["forged": true] }),
            (4, { $0["actor"] = "cli:mallory" }),
            (5, { $0["occurred_at"] = "2020-01-01T00:00:00.000000Z" }),
            (personalLine, { $0["personal"] = ["email": "forged@example.com"] }),
        ]
        for (index, change) in edits {
            var copy = lines
            copy[index] = try edit(lines[index], change)
            let report = try check(copy, [checkpoint], key: key)
            let problem = try #require(report.problems.first)
            #expect(problem.kind == .modified && problem.line == index + 1, "\(report.problems)")
            #expect(!report.intact)
        }
        // A consistent rewrite of one event (new texts and a recomputed hash) breaks the link to the next.
        var rewritten = lines
        rewritten[2] = try edit(lines[2]) { object in
            var chain = object["chain"] as! [String: Any]
            chain["hash"] = String(repeating: "ab", count: 32)
            object["chain"] = chain
        }
        let report = try check(rewritten, [checkpoint], key: key)
        #expect(report.problems.contains { $0.kind == .modified })

        // A key given twice: JSON readers disagree on which counts, so the line is refused.
        var doubled = lines
        doubled[4] = String(lines[4].dropLast(2)) + #","actor":"cli:mallory"}"# + "\n"
        #expect(try check(doubled, [checkpoint], key: key).problems.first?.kind == .modified)
        // An edited copy of a sealed event, marked unsealed to dodge the hash: refused even when
        // unsealed lines are allowed.
        var copied = lines
        copied.append(
            try edit(lines[3]) {
                $0["chain"] = NSNull()
                $0["actor"] = "cli:mallory"
            })
        let copy = try check(copied, [checkpoint], key: key, allowUnsealed: true)
        #expect(copy.problems.map(\.kind) == [.duplicate], "\(copy.problems)")
    }

    @Test("a removed line leaves the events before it unanchored; a checkpoint outside the export or by another key fails")
    func gapsAndCheckpoints() async throws {
        let f = try await AuditFixture.make()
        let checkpoint = try Checkpoint.sign(head: try await f.chain.head(), privateKey: f.key)
        let key = try publicKey(f)
        var lines = try await export(f)
        lines.remove(at: 6)
        let gap = try check(lines, [checkpoint], key: key)
        #expect(gap.segments == 2)
        #expect(gap.problems.map(\.kind) == [.unanchored] && gap.problems[0].position == 1, "\(gap.problems)")
        let full = try await export(f)
        let other = try Ed25519.generateKeyPair()
        let forged = try Checkpoint.sign(head: try await f.chain.head(), privateKey: other.privateKey)
        #expect(try check(full, [forged], key: key).problems.map(\.kind) == [.checkpointMismatch])
        // A truncated export cannot reach the checkpoint's position.
        let truncated = try check(Array(full.prefix(4)), [checkpoint], key: key)
        #expect(truncated.problems.map(\.kind) == [.checkpointMismatch])
        // Lines of an export made without --chain are refused, not silently passed.
        let plain = try check(full.map { try edit($0) { $0.removeValue(forKey: "chain") } }, [], key: nil)
        #expect(plain.problems.first?.kind == .malformed && !plain.intact)
    }

    @Test("a filtered export proves each event; the run that reaches the checkpoint is anchored")
    func filtered() async throws {
        let f = try await AuditFixture.make()
        let checkpoint = try Checkpoint.sign(head: try await f.chain.head(), privateKey: f.key)
        let lines = try await export(f, filter: EventFilter(kind: "identity_linked"))
        #expect(!lines.isEmpty)
        let withoutCheckpoint = try check(lines, [], key: nil)
        #expect(withoutCheckpoint.intact && withoutCheckpoint.sealed == lines.count)
        let anchored = try check(lines, [checkpoint], key: try publicKey(f))
        // The filtered events are not consecutive: only a full range can be tied to a checkpoint.
        #expect(anchored.problems.contains { $0.kind == .unanchored || $0.kind == .checkpointMismatch })
    }
}
