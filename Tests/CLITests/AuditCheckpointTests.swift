import Foundation
import Postgres
import TestSupport
import Testing

/// `stableid audit checkpoint` signs only what it may: a chain that verifies, with a key nobody
/// but its owner can read.
@Suite("stableid audit checkpoint", .timeLimit(.minutes(5)))
struct AuditCheckpointTests {
    /// A migrated database with one event, and a fresh key from `audit keygen` in `dir`, a folder of
    /// the test's own.
    struct Setup {
        let db: TestDatabase
        let env: [String: String]
        let dir: URL
        let keyPath: String

        static func make(in dir: URL) async throws -> Setup {
            let db = try await TestDatabase.make()
            let env = ["DATABASE_URL": db.url]
            let keyPath = dir.appendingPathComponent("audit.key").path
            let keygen = try CLI.run(["audit", "keygen", "--out", keyPath], environment: env)
            #expect(keygen.status == 0, "\(keygen.stderr)")
            #expect(try CLI.run(["pool", "add", "--id", "us-east-1_One"], environment: env).status == 0)
            return Setup(db: db, env: env, dir: dir, keyPath: keyPath)
        }

        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

        /// `audit checkpoint` into the folder's `name`, optionally from the folder's `previous`.
        func checkpoint(_ name: String, previous: String? = nil) throws -> CLI.Output {
            try CLI.run(
                ["audit", "checkpoint", "--key", keyPath, "--out", path(name)] + (previous.map { ["--previous", path($0)] } ?? []),
                environment: env)
        }
    }

    @Test("a key file that group or others may read or write is refused (exit 2, naming the file and chmod 600); 0600 and 0400 sign")
    func keyPermissions() async throws {
        try await withTemporaryDirectory("checkpoint") { dir in
            let s = try await Setup.make(in: dir)
            for mode in [0o644, 0o640, 0o604, 0o620] as [mode_t] {
                #expect(chmod(s.keyPath, mode) == 0)
                let refused = try s.checkpoint("refused.json")
                #expect(refused.status == 2, "mode \(String(mode, radix: 8)): \(refused.stdout) \(refused.stderr)")
                #expect(refused.stderr.contains(s.keyPath) && refused.stderr.contains("chmod 600"), "\(refused.stderr)")
                #expect(!FileManager.default.fileExists(atPath: s.path("refused.json")))
            }
            #expect(chmod(s.keyPath, 0o600) == 0)
            let signed = try s.checkpoint("signed.json")
            #expect(signed.status == 0, "\(signed.stderr)")
            #expect(chmod(s.keyPath, 0o400) == 0)
            #expect(try s.checkpoint("read-only.json").status == 0)
        }
    }

    @Test("a chain that no longer verifies is not signed (exit 1, naming the position), from position 1 or from --previous")
    func refusesBrokenChain() async throws {
        try await withTemporaryDirectory("checkpoint") { dir in
            let s = try await Setup.make(in: dir)
            let first = try s.checkpoint("first.json")
            #expect(first.status == 0, "\(first.stderr)")
            #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Two"], environment: s.env).status == 0)
            // From the last checkpoint on: it must still be in the chain, and what follows must verify.
            let second = try s.checkpoint("second.json", previous: "first.json")
            #expect(second.status == 0, "\(second.stderr)")
            // A superuser edits the second pool's event, sealed at position 2, behind the service's back.
            try s.db.connect().executeScript(
                """
                SET session_replication_role = replica;
                UPDATE events SET details = '{"forged": true}' WHERE kind = 'pool_added' AND pool_id = 'us-east-1_Two';
                SET session_replication_role = origin;
                """
            )
            for previous in [nil, "first.json"] as [String?] {
                let refused = try s.checkpoint("third.json", previous: previous)
                #expect(refused.status == 1, "\(refused.stdout) \(refused.stderr)")
                #expect(refused.stderr.contains("refusing to sign") && refused.stderr.contains("position 2: modified"), "\(refused.stderr)")
                #expect(!FileManager.default.fileExists(atPath: s.path("third.json")))
            }
            #expect(try CLI.run(["audit", "verify"], environment: s.env).status == 1)
        }
    }
}
