import Cognito
import Foundation
import Postgres
import TestSupport
import Testing

/// `stableid reconcile --resume`: a live run that fails while reading keeps what it read, and a
/// resume finishes it with the findings an uninterrupted run gives.
///
/// The failure is real, not a hook in the code: the interrupted run talks to Cognito (moto)
/// through ``FailingCognitoProxy``, a small forwarder that answers ListUsers like expired
/// credentials once it has let a given number of them through.
@Suite("stableid reconcile --resume", .timeLimit(.minutes(5)))
struct ReconcileResumeTests {
    /// A pool of 150 users (ListUsers pages of 60, 60 and 30), imported into `databases`, then
    /// changed in Cognito: one user deleted (orphaned), one email changed (stale), one user added
    /// (unmapped).
    static func plant(into databases: [TestDatabase]) async throws -> (pool: String, subs: [String: String]) {
        let client = try ImportTests.moto()
        let pool = try await client.createUserPool(name: "resume-\(UUID().uuidString.prefix(6))")
        try await client.createNumberedUsers(150, in: pool)
        for db in databases {
            let env = ["DATABASE_URL": db.url]
            #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)
            let imported = try CLI.run(["import", "--pool", pool], environment: env)
            #expect(imported.status == 0, "\(imported.stderr)")
        }
        var subs: [String: String] = [:]
        for name in ["user7", "user8"] {
            subs[name] = try databases[0].rows("SELECT sub FROM identities WHERE username = \(name)")[0].decode("sub", as: String.self)
        }
        try await client.adminDeleteUser(poolID: pool, username: "user7")
        try await client.adminUpdateUserAttributes(
            poolID: pool, username: "user8", attributes: [AttributeType("email", "moved@example.com")])
        let late = try await client.createTestUser(
            poolID: pool, username: "late", attributes: [AttributeType("email", "late@example.com")])
        subs["late"] = try #require(late.attribute("sub"))
        return (pool, subs)
    }

    static func openFindings(_ db: TestDatabase) throws -> [String] {
        try db.rows("SELECT kind || ' ' || subject AS f FROM findings WHERE state = 'open' ORDER BY 1").map { try $0.decode("f") }
    }

    static func json(_ output: CLI.Output) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(output.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    /// The run id the failure message tells the operator to resume.
    static func resumableRun(in output: CLI.Output) throws -> String {
        let range = try #require(output.stderr.range(of: "--resume [0-9a-f-]{36}", options: .regularExpression), "\(output.stderr)")
        return String(output.stderr[range].dropFirst("--resume ".count))
    }

    @Test("a live run that fails after one page keeps it; --resume reads the rest and finds what an uninterrupted run finds")
    func resumeFinishesTheRun() async throws {
        let interrupted = try await TestDatabase.make()
        let straight = try await TestDatabase.make()
        let (pool, subs) = try await Self.plant(into: [interrupted, straight])
        let env = ["DATABASE_URL": interrupted.url]

        // Reading fails on the second page: the first stays staged, with the token of the second.
        let proxy = try FailingCognitoProxy.start(listUsersAllowed: 1)
        let failed = try CLI.run(["reconcile", "--pool", pool, "--format", "json"], environment: env.merging(proxy.environment) { $1 })
        proxy.stop()
        #expect(failed.status == 3, "a Cognito failure is a runtime failure: \(failed.stderr)")
        #expect(failed.stderr.contains("ExpiredTokenException"), "\(failed.stderr)")
        let runID = try Self.resumableRun(in: failed)
        let run = "run_id = '\(runID)'"
        #expect(try interrupted.count("reconcile_runs", where: "id = '\(runID)' AND status = 'failed' AND error LIKE '%--resume%'") == 1)
        #expect(try interrupted.count("reconcile_snapshot", where: run) == 60)
        #expect(
            try interrupted.count(
                "reconcile_progress", where: "\(run) AND staged = 60 AND NOT complete AND pagination_token IS NOT NULL") == 1)
        #expect(try interrupted.count("findings") == 0, "a failed run commits no findings")

        // The scope comes from the run; the rest of the pool is read from the saved token.
        let resumed = try CLI.run(["reconcile", "--resume", runID, "--format", "json"], environment: env)
        #expect(resumed.status == 0, "\(resumed.stderr)")
        let report = Self.json(resumed)
        let reportRun = try #require(report["run"] as? [String: Any], "\(resumed.stdout)")
        #expect((reportRun["id"] as? String)?.lowercased() == runID)
        #expect((reportRun["scanned"] as? [String: Int])?[pool] == 150)
        #expect(try interrupted.count("reconcile_snapshot") == 0 && interrupted.count("reconcile_progress") == 0)
        #expect(try interrupted.count("reconcile_runs", where: "id = '\(runID)' AND status = 'completed' AND error IS NULL") == 1)

        // The same findings as a run that was never interrupted.
        let uninterrupted = try CLI.run(["reconcile", "--pool", pool, "--format", "json"], environment: ["DATABASE_URL": straight.url])
        #expect(uninterrupted.status == 0, "\(uninterrupted.stderr)")
        #expect(Self.json(uninterrupted)["counts"] as? [String: Int] == report["counts"] as? [String: Int])
        let open = try Self.openFindings(interrupted)
        let openStraight = try Self.openFindings(straight)
        #expect(open == openStraight)
        #expect(open.contains("orphaned \(pool)/\(subs["user7"]!)"), "\(open)")
        #expect(open.contains("stale \(pool)/\(subs["user8"]!)"), "\(open)")
        #expect(open.contains("unmapped \(pool)/\(subs["late"]!)"), "\(open)")

        // A run whose process died (its row still `running`) and whose saved token Cognito no
        // longer takes: the resume retires the dead row, keeps what it read, drops the refused
        // pool's pages and reads the pool from its first page. Nothing changed in Cognito since.
        let again = try FailingCognitoProxy.start(listUsersAllowed: 1)
        let second = try CLI.run(["reconcile", "--pool", pool], environment: env.merging(again.environment) { $1 })
        again.stop()
        #expect(second.status == 3)
        let secondID = try Self.resumableRun(in: second)
        let connection = try interrupted.connect()
        try connection.execute(
            "UPDATE reconcile_runs SET status = 'running', finished_at = NULL, error = NULL WHERE id = \(secondID)::uuid")
        try connection.execute("UPDATE reconcile_progress SET pagination_token = 'not-a-token' WHERE run_id = \(secondID)::uuid")
        let refused = try CLI.run(["reconcile", "--resume", secondID, "--pool", pool, "--format", "json"], environment: env)
        #expect(refused.status == 0, "\(refused.stderr)")
        #expect(refused.stderr.contains("refused the saved pagination token"), "\(refused.stderr)")
        let refusedReport = Self.json(refused)
        #expect(((refusedReport["run"] as? [String: Any])?["scanned"] as? [String: Int])?[pool] == 150)
        #expect((refusedReport["new"] as? [String: Int])?.values.reduce(0, +) == 0, "\(refused.stdout)")
        #expect((refusedReport["resolved"] as? [String: Int])?.values.reduce(0, +) == 0)
        #expect(try Self.openFindings(interrupted) == open)
    }

    @Test("--resume refuses a completed run, a file run, an unknown id, a malformed id and --file, with exit 2")
    func resumeRefusals() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        let client = try ImportTests.moto()
        let pool = try await client.createUserPool(name: "resume-no-\(UUID().uuidString.prefix(6))")
        _ = try await client.createTestUser(poolID: pool, username: "someone", attributes: [AttributeType("email", "someone@example.com")])
        #expect(try CLI.run(["pool", "add", "--id", pool], environment: env).status == 0)

        let live = try CLI.run(["reconcile", "--pool", pool, "--format", "json"], environment: env)
        #expect(live.status == 0, "\(live.stderr)")
        let liveID = try #require((Self.json(live)["run"] as? [String: Any])?["id"] as? String)
        let completed = try CLI.run(["reconcile", "--resume", liveID], environment: env)
        #expect(completed.status == 2 && completed.stderr.contains("completed"), "\(completed.stderr)")

        try await withTemporaryDirectory("resume") { dir in
            let file = dir.appendingPathComponent("\(pool).json")
            var text = ""
            for try await page in client.listUsers(poolID: pool) {
                text += String(decoding: try JSONEncoder().encode(["Users": page.Users]), as: UTF8.self) + "\n"
            }
            try text.write(to: file, atomically: true, encoding: .utf8)
            let fromFile = try CLI.run(
                ["reconcile", "--pool", pool, "--file", "\(pool)=\(file.path)", "--format", "json"], environment: env)
            #expect(fromFile.status == 0, "\(fromFile.stderr)")
            let fileID = try #require((Self.json(fromFile)["run"] as? [String: Any])?["id"] as? String)
            let fileRun = try CLI.run(["reconcile", "--resume", fileID], environment: env)
            #expect(fileRun.status == 2 && fileRun.stderr.contains("files"), "\(fileRun.stderr)")

            let unknown = try CLI.run(["reconcile", "--resume", UUID().uuidString.lowercased()], environment: env)
            #expect(unknown.status == 2 && unknown.stderr.contains("no reconciliation run"), "\(unknown.stderr)")
            let malformed = try CLI.run(["reconcile", "--resume", "yesterday"], environment: env)
            #expect(malformed.status == 2 && malformed.stderr.contains("--resume"), "\(malformed.stderr)")
            let withFile = try CLI.run(["reconcile", "--resume", liveID, "--file", "\(pool)=\(file.path)"], environment: env)
            #expect(withFile.status == 2 && withFile.stderr.contains("--file"), "\(withFile.stderr)")
            #expect(try db.count("reconcile_runs", where: "status = 'running'") == 0, "a refused resume changes no run")
        }
    }
}

/// A local HTTP forwarder to moto for one `stableid` invocation: every request goes through
/// unchanged, except that ListUsers calls past the first `listUsersAllowed` are answered 400
/// `ExpiredTokenException`, as AWS answers a request signed with expired credentials (Cognito's
/// client does not retry it). Python, because the CLI tests drive the built binary and have no
/// server of their own; the process is this test's child and is stopped by its pid.
struct FailingCognitoProxy {
    let process: Process
    let port: Int

    var environment: [String: String] {
        let url = "http://127.0.0.1:\(port)"
        return ["AWS_ENDPOINT_URL": url, "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": url]
    }

    static let script = """
        import http.server, sys, urllib.error, urllib.request
        target, allowed = sys.argv[1].rstrip('/'), int(sys.argv[2])
        seen = 0

        class Forward(http.server.BaseHTTPRequestHandler):
            def answer(self, status, kind, payload):
                self.send_response(status)
                self.send_header('Content-Type', kind)
                self.send_header('Content-Length', str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self):
                global seen
                body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                if self.headers.get('X-Amz-Target', '').endswith('.ListUsers'):
                    seen += 1
                    if seen > allowed:
                        self.answer(400, 'application/x-amz-json-1.1',
                                    b'{"__type":"ExpiredTokenException","message":"The security token included in the request is expired"}')
                        return
                skip = ('host', 'content-length', 'connection', 'accept-encoding', 'expect')
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                request = urllib.request.Request(target + self.path, data=body, headers=headers, method='POST')
                try:
                    with urllib.request.urlopen(request) as response:
                        status, kind, payload = response.status, response.headers.get('Content-Type'), response.read()
                except urllib.error.HTTPError as error:
                    status, kind, payload = error.code, error.headers.get('Content-Type'), error.read()
                self.answer(status, kind or 'application/x-amz-json-1.1', payload)

            def log_message(self, *args):
                pass

        server = http.server.HTTPServer(('127.0.0.1', 0), Forward)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """

    static func start(listUsersAllowed: Int) throws -> FailingCognitoProxy {
        guard let moto = ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"], !moto.isEmpty else {
            throw MissingEnvironment(message: "AWS_ENDPOINT_URL is not set: run the tests through scripts/test, which starts moto")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, moto, String(listUsersAllowed)]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        // The first line is the port it listens on; nothing until then.
        var text = ""
        while !text.contains("\n") {
            let data = out.fileHandleForReading.availableData
            if data.isEmpty { break }
            text += String(decoding: data, as: UTF8.self)
        }
        guard let port = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw MissingEnvironment(message: "the Cognito proxy did not start (python3 needed): '\(text)'")
        }
        return FailingCognitoProxy(process: process, port: port)
    }

    /// Stops the proxy without `waitUntilExit`, which blocks a thread of the test's concurrency
    /// pool and has been seen to never return for a child already gone: the exit is polled for a
    /// moment, then the process is killed outright.
    func stop() {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
