import Foundation
import Postgres
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
            // Keep-alive clients: one busy on a connection, one idle after a first request.
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            probe.arguments = ["python3", "\(CLI.repositoryRoot)/scripts/lib/keepalive_probe.py", "--port", "\(serve.port)"]
            let probeOutput = Pipe()
            probe.standardOutput = probeOutput
            try probe.run()
            defer { if probe.isRunning { probe.terminate() } }
            // Both connections are open before the signal ("connected" comes after the idle one's answer).
            let connected = probeOutput.fileHandleForReading.availableLine()
            #expect(connected == "connected")

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
            probe.waitUntilExit()
            let text = String(decoding: probeOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
            let statuses = seen["statuses"] as? [Int] ?? []
            #expect(!statuses.isEmpty && statuses.allSatisfy { $0 == 200 }, "every request on the busy connection answered: \(seen)")
            #expect(seen["saw_connection_close"] as? Bool == true, "draining answers say Connection: close: \(seen)")
            #expect(seen["busy_closed_by_server"] as? Bool == true, "\(seen)")
            #expect(seen["idle_closed_by_server"] as? Bool == true, "the idle keep-alive connection is closed: \(seen)")
            #expect((seen["errors"] as? [String] ?? []).isEmpty, "\(seen)")
        }
    }
}

extension DrainTests {
    @Test("a request still in flight when the drain ends is answered before the process exits 0")
    func inFlightRequestIsAnswered() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        let token = try CLI.run(["token", "create", "--name", "drain", "--scope", "resolve"], environment: env).lastLine
        #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Drain"], environment: env).status == 0)
        try await withTemporaryDirectory { directory in
            // Timeouts long enough that the lookup below waits on the lock instead of giving up.
            let serve = try ServeProcess(
                db: db, logDirectory: directory,
                environment: [
                    "STABLEID_DRAIN_SECONDS": "2", "STABLEID_STATEMENT_TIMEOUT_MS": "30000", "STABLEID_LOCK_TIMEOUT_MS": "30000",
                ])
            #expect(try await serve.ready(), "\(serve.output)")
            let lookup = "\(serve.base)/v1/resolve?pool=us-east-1_Drain&sub=5e2e5e2e-0000-4000-8000-00000000d0d1&consistency=strong"
            kill(serve.process.processIdentifier, SIGTERM)
            // During the drain, a strong lookup that waits on a lock this test holds past the drain.
            let lock = try db.connect()
            try lock.execute("BEGIN")
            try lock.execute("LOCK TABLE identities IN ACCESS EXCLUSIVE MODE")
            let answer = Task { try await CLI.http("GET", lookup, token: token) }
            let waiting = try await ServeProcess.poll(within: .seconds(5)) {
                try db.connect().query(
                    "SELECT count(*) AS n FROM pg_locks WHERE NOT granted AND relation = 'identities'::regclass"
                )[0].decode("n", as: Int.self) > 0
            }
            #expect(waiting, "the lookup reached the database and waits on the lock")
            // Past the drain: the listener is closed, the request still in flight.
            try await Task.sleep(for: .seconds(2.5))
            #expect(serve.process.isRunning, "it waits for the request in flight")
            try lock.execute("COMMIT")
            let (status, body) = try await answer.value
            #expect(status == 404, "answered (the sub is not linked): \(status) \(body)")
            let exited = try await ServeProcess.poll(within: .seconds(20)) { !serve.process.isRunning }
            #expect(exited, "\(serve.output)")
            serve.process.waitUntilExit()
            #expect(serve.process.terminationStatus == 0, "\(serve.output)")
        }
    }
}

extension FileHandle {
    /// One line read byte by byte (the rest stays in the pipe for a later read).
    func availableLine() -> String {
        var bytes: [UInt8] = []
        while true {
            let byte = readData(ofLength: 1)
            guard let first = byte.first, first != UInt8(ascii: "\n") else { break }
            bytes.append(first)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
