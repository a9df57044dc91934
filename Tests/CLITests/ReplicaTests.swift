import Foundation
import TestSupport
import Testing

/// `DATABASE_READ_URL` against a real streaming standby (scripts/test starts a primary and a
/// `pg_basebackup -R` replica of it for this suite alone, since it stops that primary).
@Suite("Read replica", .timeLimit(.minutes(5)))
struct ReplicaTests {
    struct Setup {
        let primary: String
        let replica: String
        let primaryPIDFile: String

        static func fromEnvironment() throws -> Setup {
            let environment = ProcessInfo.processInfo.environment
            guard let primary = environment["STABLEID_TEST_REPLICATED_PRIMARY_URL"], let replica = environment["STABLEID_TEST_REPLICA_URL"],
                let pidFile = environment["STABLEID_TEST_REPLICATED_PRIMARY_PID_FILE"], !primary.isEmpty, !replica.isEmpty
            else {
                throw MissingEnvironment(message: "no replica: run the tests through scripts/test, which starts a primary and its standby")
            }
            return Setup(primary: primary, replica: replica, primaryPIDFile: pidFile)
        }
    }

    /// Polls `probe` every 20 ms until it returns true or `seconds` pass; answers how long it took.
    static func eventually(within seconds: Double, _ probe: () async throws -> Bool) async throws -> Duration? {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < .seconds(seconds) {
            if try await probe() { return ContinuousClock.now - start }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// After a failover the service talks to what was the standby: a second `serve` whose only
    /// database is the standby (the primary is down) reads the change feed from the cursor the
    /// primary gave, and answers exactly what the primary answered — the cursor is a position in a
    /// replicated table, nothing in a process.
    static func feedOnStandby(_ setup: Setup, token: String, path: String, expected: String, directory: URL) async throws {
        let port = try CLI.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLI.binary)
        process.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = setup.replica
        environment["DATABASE_READ_URL"] = nil
        environment["STABLEID_LOOKUP_CACHE"] = "off"
        environment["STABLEID_SQL_DIR"] = TestDatabase.sqlDirectory.path
        environment["STABLEID_LISTEN"] = "127.0.0.1:\(port)"
        process.environment = environment
        let log = directory.appendingPathComponent("standby-serve.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        func standbyLog() -> String {
            "\n--- the standby's serve log ---\n" + ((try? String(contentsOf: log, encoding: .utf8)) ?? "(unreadable)")
        }
        let base = "http://127.0.0.1:\(port)"
        #expect(
            try await eventually(within: 45) { (try? await CLI.http("GET", "\(base)/healthz").0) == 200 } != nil, "\(standbyLog())")
        var last = ""
        let same = try await eventually(within: 15) {
            let (status, body) = try await CLI.http("GET", base + path, token: token)
            last = "\(status) \(body)"
            return status == 200 && body == expected
        }
        #expect(same != nil, "the standby answered \(last), the primary \(expected)\(standbyLog())")
    }

    @Test(
        "lookups, warm-up and the change feed work from a standby; with the primary down lookups still answer and writes answer 503; a change-feed cursor reads the same on the standby"
    )
    func standby() async throws {
        let setup = try Setup.fromEnvironment()
        let owner = ["DATABASE_URL": setup.primary]
        #expect(try CLI.run(["db", "migrate"], environment: owner).status == 0)
        let pool = "us-east-1_Repl\(UUID().uuidString.prefix(6).filter(\.isLetter))"
        #expect(try CLI.run(["pool", "add", "--id", pool], environment: owner).status == 0)
        let token = try CLI.run(
            ["token", "create", "--name", "replica-\(UUID().uuidString.prefix(8))", "--scope", "write", "--scope", "resolve"],
            environment: owner
        ).lastLine
        let feedToken = try CLI.run(
            ["token", "create", "--name", "replica-feed-\(UUID().uuidString.prefix(8))", "--scope", "changes"], environment: owner
        ).lastLine

        let port = try CLI.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLI.binary)
        process.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = setup.primary
        environment["DATABASE_READ_URL"] = setup.replica
        environment["STABLEID_SQL_DIR"] = TestDatabase.sqlDirectory.path
        environment["STABLEID_LISTEN"] = "127.0.0.1:\(port)"
        process.environment = environment
        try await withTemporaryDirectory("replica-serve") { dir in
            let log = dir.appendingPathComponent("serve.log")
            FileManager.default.createFile(atPath: log.path, contents: nil)
            let logHandle = try FileHandle(forWritingTo: log)
            process.standardError = logHandle
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            defer { if process.isRunning { process.terminate() } }
            // The server's log so far, for failure messages: the directory holding it goes when the test ends.
            func serveLog() -> String {
                "\n--- stableid serve's log ---\n" + ((try? String(contentsOf: log, encoding: .utf8)) ?? "(unreadable)")
            }
            // A thrown error ends the test before it reads the log: record the log with it.
            var finished = false
            defer { if !finished { Issue.record("the test stopped on an error\(serveLog())") } }
            let base = "http://127.0.0.1:\(port)"
            // Generous: on a loaded 2-core machine (the whole suite runs at once) a start can take long.
            #expect(
                try await Self.eventually(within: 45) { (try? await CLI.http("GET", "\(base)/readyz").0) == 200 } != nil, "\(serveLog())")
            // The change feed's end before this test's writes: the cursor a standby must read alike.
            let (feedStatus, feedEnd) = try await CLI.http("GET", "\(base)/v1/changes", token: feedToken)
            #expect(feedStatus == 200, "\(feedEnd)\(serveLog())")
            let feedStart = try #require(
                ((try? JSONSerialization.jsonObject(with: Data(feedEnd.utf8))) as? [String: Any])?["next"] as? String, "\(feedEnd)")

            // A person created through the service (written to the primary) resolves from the standby.
            let sub = UUID().uuidString.lowercased()
            let (created, body) = try await CLI.http(
                "POST", "\(base)/v1/users", token: token,
                body: #"{"identities":[{"pool":"\#(pool)","sub":"\#(sub)","username":"r-\#(sub.prefix(8))"}]}"#)
            #expect(created == 201, "\(body)\(serveLog())")
            let resolve = "\(base)/v1/resolve?pool=\(pool)&sub=\(sub)"
            #expect(
                try await Self.eventually(within: 5) { try await CLI.http("GET", resolve, token: token).0 == 200 } != nil, "\(serveLog())")

            // The read model warms up from the standby and follows its change feed (polling: a
            // standby cannot LISTEN): lookups become hits.
            let live = try await Self.eventually(within: 15) {
                let metrics = try await CLI.http("GET", "\(base)/metrics").1
                return metrics.contains(#"stableid_lookup_cache_state{state="live"} 1"#)
            }
            #expect(live != nil, "the cache went live on the standby\(serveLog())")
            // An unlink made elsewhere (straight on the primary, as another server would) reaches the
            // standby's read model through the feed, and lookups keep being hits.
            let hits = { () async throws -> Double in
                let metrics = try await CLI.http("GET", "\(base)/metrics").1
                let line = metrics.split(separator: "\n").first { $0.hasPrefix(#"stableid_lookup_cache_lookups_total{result="hit"}"#) }
                return line.flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
            }
            // The feed may bring the new identity a poll after the cache went live: until then a
            // lookup is a miss answered by the standby. It must become a hit.
            let answeredFromMemory = try await Self.eventually(within: 15) {
                let hitsBefore = try await hits()
                guard try await CLI.http("GET", resolve, token: token).0 == 200 else { return false }
                return try await hits() > hitsBefore
            }
            #expect(answeredFromMemory != nil, "answered from memory\(serveLog())")
            let unlinked = try CLI.runProcess(
                "/usr/bin/env",
                ["psql", setup.primary, "-qc", "UPDATE identities SET status = 'unlinked', unlinked_at = now() WHERE sub = '\(sub)'"])
            #expect(unlinked.status == 0, "\(unlinked.stderr)")
            #expect(
                try await Self.eventually(within: 5) { try await CLI.http("GET", resolve, token: token).0 == 404 } != nil, "\(serveLog())")

            // A second person, then the primary goes down: lookups go on, writes answer 503.
            let other = UUID().uuidString.lowercased()
            let (again, _) = try await CLI.http(
                "POST", "\(base)/v1/users", token: token,
                body: #"{"identities":[{"pool":"\#(pool)","sub":"\#(other)","username":"r-\#(other.prefix(8))"}]}"#)
            #expect(again == 201, "\(serveLog())")
            let otherURL = "\(base)/v1/resolve?pool=\(pool)&sub=\(other)"
            #expect(
                try await Self.eventually(within: 5) { try await CLI.http("GET", otherURL, token: token).0 == 200 } != nil, "\(serveLog())")
            // The two links, as the primary's feed answers them (the unlink above was a bare UPDATE: no event, no change).
            let feedURL = "/v1/changes?after=\(feedStart)&limit=100"
            let (_, primaryFeed) = try await CLI.http("GET", base + feedURL, token: feedToken)
            #expect(primaryFeed.components(separatedBy: #""kind":"identity.linked""#).count == 3, "\(primaryFeed)\(serveLog())")
            let pidText = try String(contentsOfFile: setup.primaryPIDFile, encoding: .utf8)
            let pid = try #require(pidText.split(separator: "\n").first.flatMap { Int32($0) })
            #expect(kill(pid, SIGINT) == 0)  // fast shutdown of the primary
            #expect(try await Self.eventually(within: 10) { !FileManager.default.fileExists(atPath: setup.primaryPIDFile) } != nil)

            let hitsAtOutage = try await hits()
            for _ in 0..<20 {
                let (status, answer) = try await CLI.http("GET", otherURL, token: token)
                #expect(status == 200, "\(answer)\(serveLog())")
            }
            #expect(try await hits() >= hitsAtOutage + 20, "answered from memory with the primary down\(serveLog())")
            let metricsAfter = try await CLI.http("GET", "\(base)/metrics").1
            #expect(
                metricsAfter.contains(#"stableid_lookup_cache_state{state="live"} 1"#),
                "the standby's feed kept the cache live\(serveLog())")
            let batch = try await CLI.http(
                "POST", "\(base)/v1/resolve", token: token, body: #"{"items":[{"pool":"\#(pool)","sub":"\#(other)"}]}"#)
            #expect(batch.0 == 200 && batch.1.contains(other), "\(serveLog())")
            let write = try await CLI.http(
                "POST", "\(base)/v1/users", token: token,
                body: #"{"identities":[{"pool":"\#(pool)","sub":"\#(UUID().uuidString.lowercased())","username":"late"}]}"#)
            #expect(write.0 == 503, "\(write.1)\(serveLog())")
            #expect(write.1.contains("database_unavailable"), "\(serveLog())")
            // Still ready (lookups work); the probe notices the primary is gone within a check or two.
            let noticed = try await Self.eventually(within: 5) {
                let ready = try await CLI.http("GET", "\(base)/readyz")
                return ready.0 == 200 && ready.1.contains(#""primary":"down""#)
            }
            #expect(noticed != nil, "\(serveLog())")
            #expect(try await CLI.http("GET", "\(base)/readyz").0 == 200, "\(serveLog())")
            try await Self.feedOnStandby(setup, token: feedToken, path: feedURL, expected: primaryFeed, directory: dir)
            finished = true
        }
    }
}
