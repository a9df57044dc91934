import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing

/// scripts/lib/webhook_receiver.py on a free loopback port: checks each request's signature with
/// Python's hmac and logs it as a JSON line.
struct PythonWebhookReceiver {
    let process: Process
    let port: Int
    let log: URL

    var url: String { "http://127.0.0.1:\(port)/hook" }

    static func start(secretFile: URL, directory: URL, delay: Double = 0) async throws -> PythonWebhookReceiver {
        let port = try CLI.freePort()
        let log = directory.appendingPathComponent("receiver-\(port).ndjson")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", CLI.repositoryRoot + "/scripts/lib/webhook_receiver.py", "--port", String(port), "--log", log.path,
            "--secret-file", secretFile.path, "--delay", String(delay),
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let receiver = PythonWebhookReceiver(process: process, port: port, log: log)
        let up = try await ServeProcess.poll(within: .seconds(20)) {
            (try? await CLI.http("GET", "http://127.0.0.1:\(port)/healthz").0) == 200
        }
        guard up else {
            receiver.stop()
            throw MissingEnvironment(message: "scripts/lib/webhook_receiver.py did not start (python3 needed)")
        }
        return receiver
    }

    struct Received {
        var id: String
        /// The signature, timestamp and content type checked out (in Python).
        var valid: Bool
        var changes: [[String: Any]]
    }

    /// Each request received so far, in arrival order.
    func requests() -> [Received] {
        let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return Received(
                id: object["id"] as? String ?? "", valid: object["valid"] as? Bool ?? false,
                changes: object["changes"] as? [[String: Any]] ?? [])
        }
    }

    func stop() {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}

@Suite("stableid webhook", .timeLimit(.minutes(5)))
struct WebhookCLITests {
    static func secret(bytes: Int = 32) -> String {
        "whsec_" + Data((0..<bytes).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    }

    static func writeSecret(_ secret: String, in directory: URL, name: String = "secret") throws -> URL {
        let file = directory.appendingPathComponent(name)
        try Data((secret + "\n").utf8).write(to: file)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        return file
    }

    @Test("add prints the id alone on the last line; list shows the fingerprint, never the secret; remove; refusals exit 2")
    func addListRemove() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        try withTemporaryDirectory("webhook-cli") { directory in
            let secret = Self.secret()
            let file = try Self.writeSecret(secret, in: directory)
            let added = try CLI.run(
                [
                    "webhook", "add", "https://ops:pa55@hooks.example.com/stableid?key=k1", "--secret-file", file.path, "--kinds",
                    "identity.linked,user.merged", "--description", "billing",
                ], environment: env)
            #expect(added.status == 0, "\(added.stderr)")
            let id = added.lastLine
            #expect(UUID(uuidString: id) != nil, "\(added.stdout)")
            let listed = try CLI.run(["webhook", "list", "--format", "json"], environment: env)
            let rows = try #require(try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: String]])
            try #require(rows.count == 1)
            #expect(rows[0]["id"] == id && rows[0]["url"] == "https://***@hooks.example.com/***#69cdccef")
            #expect(rows[0]["kinds"] == "identity.linked,user.merged" && rows[0]["state"] == "enabled")
            let python = "import hashlib, sys; print(hashlib.sha256(sys.argv[1].encode()).hexdigest()[:8])"
            let fingerprint = try CLI.runProcess("/usr/bin/env", ["python3", "-c", python, secret]).stdout
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(rows[0]["secret_fingerprint"] == fingerprint)
            let table = try CLI.run(["webhook", "list"], environment: env)
            let key = String(secret.dropFirst(6))
            for output in [added.stdout, added.stderr, listed.stdout, table.stdout, table.stderr] {
                #expect(!output.contains(key) && !output.contains("pa55") && !output.contains("k1"), "\(output)")
            }
            let disabled = try CLI.run(["webhook", "disable", id], environment: env)
            #expect(disabled.status == 0 && disabled.stdout.contains("disabled"), "\(disabled.stderr)")
            let enabled = try CLI.run(["webhook", "enable", id, "--from-end"], environment: env)
            #expect(enabled.status == 0 && enabled.stdout.contains("enabled"), "\(enabled.stderr)")
            #expect(try CLI.run(["webhook", "remove", id], environment: env).status == 0)
            let again = try CLI.run(["webhook", "remove", id], environment: env)
            #expect(again.status == 2 && again.stderr.contains("no webhook"), "\(again.stderr)")
            let kinds = try db.rows("SELECT kind, details::text AS details FROM events WHERE kind LIKE 'webhook_%' ORDER BY id")
            let names = try kinds.map { try $0.decode("kind", as: String.self) }
            #expect(names == ["webhook_added", "webhook_disabled", "webhook_enabled", "webhook_removed"])
            for row in kinds {
                let details: String = try row.decode("details")
                #expect(!details.contains(key) && !details.contains("pa55") && !details.contains("k1"), "\(details)")
            }
            #expect(try db.count("webhooks") == 0, "removing deletes the row and its secret")
        }
    }

    @Test("refused with exit 2 and a message that never repeats the secret: private URLs without --allow-private, malformed secrets")
    func refusals() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        try withTemporaryDirectory("webhook-refusals") { directory in
            let good = try Self.writeSecret(Self.secret(), in: directory)
            for url in [
                "http://hooks.example.com/in", "https://127.0.0.1/in", "https://10.0.0.5/in", "https://169.254.169.254/latest",
                "https://[::1]:8443/in", "https://localhost/in",
            ] {
                let refused = try CLI.run(["webhook", "add", url, "--secret-file", good.path], environment: env)
                #expect(refused.status == 2 && refused.stderr.contains("--allow-private"), "\(url): \(refused.stderr)")
                let allowed = try CLI.run(["webhook", "add", url, "--secret-file", good.path, "--allow-private"], environment: env)
                #expect(allowed.status == 0, "\(url) with --allow-private: \(allowed.stderr)")
            }
            let short = Self.secret(bytes: 16)
            for (name, text) in [("short", short), ("bare", String(Self.secret().dropFirst(6))), ("junk", "whsec_!!!!not base64")] {
                let file = try Self.writeSecret(text, in: directory, name: name)
                let refused = try CLI.run(["webhook", "add", "https://hooks.example.com/in", "--secret-file", file.path], environment: env)
                #expect(refused.status == 2 && refused.stderr.contains("Standard Webhooks secret"), "\(name): \(refused.stderr)")
                #expect(!refused.stderr.contains(String(text.suffix(12))), "\(name): \(refused.stderr)")
            }
            let missing = try CLI.run(
                ["webhook", "add", "https://hooks.example.com/in", "--secret-file", directory.appendingPathComponent("nope").path],
                environment: env)
            #expect(missing.status == 2)
            let kind = try CLI.run(
                ["webhook", "add", "https://hooks.example.com/in", "--secret-file", good.path, "--kinds", "user.created"], environment: env)
            #expect(kind.status == 2 && kind.stderr.contains("identity.linked"), "\(kind.stderr)")
        }
    }
}

extension WebhookCLITests {
    /// Users of a `list-users` file: `count` of them, each one `identity.linked` change once imported.
    static func usersFile(_ count: Int, in directory: URL) throws -> URL {
        let users = (0..<count).map { n -> String in
            let sub = String(format: "5e2e5e2e-0000-4000-8000-%012d", n)
            return #"{"Username":"hook\#(n)","Attributes":[{"Name":"sub","Value":"\#(sub)"}],"Enabled":true,"UserStatus":"CONFIRMED"}"#
        }
        let file = directory.appendingPathComponent("users.json")
        try Data(#"{"Users":[\#(users.joined(separator: ","))]}"#.utf8).write(to: file)
        return file
    }

    @Test("serve killed with SIGKILL mid-delivery, another started: every imported change arrives once at least, in order, signed")
    func killAndRestart() async throws {
        let db = try await TestDatabase.make()
        let env = ["DATABASE_URL": db.url]
        #expect(try CLI.run(["pool", "add", "--id", "us-east-1_Hooks"], environment: env).status == 0)
        try await withTemporaryDirectory("webhook-kill") { directory in
            let secret = Self.secret()
            let secretFile = try Self.writeSecret(secret, in: directory)
            let receiver = try await PythonWebhookReceiver.start(secretFile: secretFile, directory: directory, delay: 0.05)
            defer { receiver.stop() }
            let added = try CLI.run(
                ["webhook", "add", receiver.url, "--secret-file", secretFile.path, "--allow-private"], environment: env)
            try #require(added.status == 0, "\(added.stderr)")
            let start: Int64 = try db.rows("SELECT cursor FROM webhooks")[0].decode("cursor")
            // The shortest lease serve takes: 2 × the 1 s attempt timeout + 3 s (the receiver is local).
            let settings = [
                "STABLEID_WEBHOOK_BATCH": "10", "STABLEID_WEBHOOK_LEASE_S": "5", "STABLEID_WEBHOOK_TIMEOUT_S": "1",
                "STABLEID_WEBHOOK_RETRY_BASE_MS": "100",
            ]
            let first = try ServeProcess(db: db, logDirectory: directory, environment: settings)
            #expect(try await first.ready(), "\(first.output)")
            let imported = try CLI.run(
                ["import", "--pool", "us-east-1_Hooks", "--file", try Self.usersFile(300, in: directory).path], environment: env)
            try #require(imported.status == 0, "\(imported.stderr)")
            let underway = try await ServeProcess.poll(within: .seconds(60)) { receiver.requests().count >= 3 }
            try #require(underway, "\(first.output)")
            kill(first.process.processIdentifier, SIGKILL)
            first.process.waitUntilExit()
            let before = receiver.requests().flatMap(\.changes).count
            #expect(before < 300, "killed mid-delivery (\(before) of 300 delivered)")

            let second = try ServeProcess(db: db, logDirectory: directory, environment: settings)
            #expect(try await second.ready(), "\(second.output)")
            let expected: [Int] = try db.rows("SELECT event_id FROM change_feed WHERE id > \(start) ORDER BY id").map {
                try $0.decode("event_id")
            }
            #expect(expected.count == 300)
            let all = try await ServeProcess.poll(within: .seconds(90)) {
                Set(receiver.requests().flatMap(\.changes).compactMap { $0["event_id"] as? Int }).count >= expected.count
            }
            try #require(all, "\(second.output)")
            let requests = receiver.requests()
            #expect(requests.allSatisfy { $0.valid }, "every signature checks out in Python")
            var seen = Set<Int>()
            var firstSeen: [Int] = []
            var idOf: [Int: String] = [:]
            for request in requests {
                for change in request.changes {
                    let event = change["event_id"] as? Int ?? -1
                    if seen.insert(event).inserted {
                        firstSeen.append(event)
                        idOf[event] = request.id
                    } else {
                        #expect(idOf[event] == request.id, "a change sent again comes under its first message's id")
                    }
                }
            }
            #expect(firstSeen == expected, "in commit order, none missing")
            // The cursor moves once the receiver has answered: at the end of the feed soon after.
            let settled = try await ServeProcess.poll(within: .seconds(10)) {
                let rows = try db.rows("SELECT cursor = (SELECT max(id) FROM change_feed) AS settled FROM webhooks")
                return try rows[0].decode("settled", as: Bool.self)
            }
            #expect(settled)
            for log in [first.output, second.output] {
                #expect(!log.contains(String(secret.dropFirst(6))), "the secret is never logged")
            }
        }
    }
}
