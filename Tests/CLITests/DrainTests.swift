import Foundation
import TestSupport
import Testing

/// A rolling deploy's other half (issue #23): on SIGTERM `/readyz` turns 503 at once while the
/// server keeps answering for the drain period, then it exits 0.
@Suite("serve drains on SIGTERM", .timeLimit(.minutes(2)))
struct DrainTests {
    @Test("after SIGTERM: /readyz 503 draining while lookups still answer, then a clean exit after the drain period")
    func drainsBeforeClosing() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        let token = try CLI.run(["token", "create", "--name", "drain", "--scope", "resolve"], environment: env).lastLine
        #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Drain"], environment: env).status == 0)
        try await withTemporaryDirectory { directory in
            let port = try CLI.freePort()
            let log = directory.appendingPathComponent("serve.log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try CLI.binary)
            process.arguments = ["serve"]
            var environment = ProcessInfo.processInfo.environment
            environment["DATABASE_URL"] = try db.serviceRoleURL()
            environment["STABLEID_SQL_DIR"] = TestDatabase.sqlDirectory.path
            environment["STABLEID_LISTEN"] = "127.0.0.1:\(port)"
            environment["STABLEID_DRAIN_SECONDS"] = "3"
            process.environment = environment
            process.standardError = try FileHandle(forWritingTo: log)
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            let base = "http://127.0.0.1:\(port)"
            let lookup = "\(base)/v1/resolve?pool=us-east-1_Drain&sub=5e2e5e2e-0000-4000-8000-00000000d0d0"
            let serveLog = { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }
            #expect(try await poll(within: .seconds(60)) { (try? await CLI.http("GET", "\(base)/readyz").0) == 200 }, "\(serveLog())")

            let signalled = ContinuousClock.now
            kill(process.processIdentifier, SIGTERM)
            #expect(
                try await poll(within: .seconds(2)) {
                    let (status, body) = (try? await CLI.http("GET", "\(base)/readyz")) ?? (0, "")
                    return status == 503 && body.contains("draining")
                }, "\(serveLog())")
            // Still serving: the listener is open and lookups are answered (404: not linked).
            #expect(try await CLI.http("GET", lookup, token: token).0 == 404)
            #expect(try await CLI.http("GET", "\(base)/healthz").0 == 200)
            #expect(process.isRunning)
            #expect(try await poll(within: .seconds(20)) { !process.isRunning }, "\(serveLog())")
            #expect(ContinuousClock.now - signalled >= .seconds(2.5))
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(serveLog())")
            #expect(serveLog().contains("draining"))
        }
    }

    /// Polls `condition` every 50 ms until it holds (true) or `limit` passes (false).
    private func poll(within limit: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
