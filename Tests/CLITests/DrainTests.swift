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
            let serve = try ServeProcess(db: db, logDirectory: directory, environment: ["STABLEID_DRAIN_SECONDS": "3"])
            let lookup = "\(serve.base)/v1/resolve?pool=us-east-1_Drain&sub=5e2e5e2e-0000-4000-8000-00000000d0d0"
            #expect(try await serve.ready(), "\(serve.output)")

            let signalled = ContinuousClock.now
            kill(serve.process.processIdentifier, SIGTERM)
            let draining = try await ServeProcess.poll(within: .seconds(2)) {
                let (status, body) = (try? await CLI.http("GET", "\(serve.base)/readyz")) ?? (0, "")
                return status == 503 && body.contains("draining")
            }
            #expect(draining, "\(serve.output)")
            // Still serving: the listener is open and lookups are answered (404: not linked).
            #expect(try await CLI.http("GET", lookup, token: token).0 == 404)
            #expect(try await CLI.http("GET", "\(serve.base)/healthz").0 == 200)
            #expect(serve.process.isRunning)
            let exited = try await ServeProcess.poll(within: .seconds(20)) { !serve.process.isRunning }
            #expect(exited, "\(serve.output)")
            #expect(ContinuousClock.now - signalled >= .seconds(2.5))
            serve.process.waitUntilExit()
            #expect(serve.process.terminationStatus == 0, "\(serve.output)")
            #expect(serve.output.contains("draining"))
        }
    }
}
