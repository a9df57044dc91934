import Foundation
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Runs the built `stableid` binary (`STABLEID_BIN`, set by scripts/test) as a user would.
struct CLI {
    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var lastLine: String { stdout.split(separator: "\n").last.map(String.init) ?? "" }
    }

    static var binary: String {
        get throws {
            if let path = ProcessInfo.processInfo.environment["STABLEID_BIN"], !path.isEmpty { return path }
            let guess = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent(".build/debug/stableid").path
            guard FileManager.default.isExecutableFile(atPath: guess) else {
                throw MissingEnvironment(message: "STABLEID_BIN is not set: run the tests through scripts/test")
            }
            return guess
        }
    }

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    static func run(_ arguments: [String], environment extra: [String: String] = [:]) throws -> Output {
        try runProcess(try binary, arguments, environment: extra)
    }

    /// Any program, with the test environment plus `extra`.
    static func runProcess(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["STABLEID_SQL_DIR"] = TestDatabase.sqlDirectory.path
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self)
        )
    }

    /// One HTTP exchange with a running `stableid serve`: status and body.
    static func http(_ method: String, _ url: String, token: String? = nil, body: String? = nil) async throws -> (Int, String) {
        var request = URLRequest(url: URL(string: url)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let body {
            request.httpBody = Data(body.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    static func freePort() throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        process.waitUntilExit()
        return Int(
            String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))!
    }
}

/// `stableid serve` as a child process on a free loopback port, its log in a file (a pipe could
/// fill up and stall it), stopped when the value's owner says so or at the latest by `deinit`.
final class ServeProcess: @unchecked Sendable {
    let process = Process()
    let port: Int
    let log: URL
    var base: String { "http://127.0.0.1:\(port)" }

    /// Starts it as the least-privileged service role of `db`, with `environment` added.
    init(db: TestDatabase, logDirectory: URL, environment extra: [String: String] = [:]) throws {
        port = try CLI.freePort()
        log = logDirectory.appendingPathComponent("serve-\(port).log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: try CLI.binary)
        process.arguments = ["serve"]
        var environment = ProcessInfo.processInfo.environment
        environment["DATABASE_URL"] = try db.serviceRoleURL()
        environment["STABLEID_SQL_DIR"] = TestDatabase.sqlDirectory.path
        environment["STABLEID_LISTEN"] = "127.0.0.1:\(port)"
        for (key, value) in extra { environment[key] = value }
        process.environment = environment
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Until `/readyz` answers 200 (the lookup cache is warm): true, or false after `limit`.
    func ready(within limit: Duration = .seconds(60)) async throws -> Bool {
        try await Self.poll(within: limit) { (try? await CLI.http("GET", "\(self.base)/readyz").0) == 200 }
    }

    /// Polls `condition` every 50 ms until it holds (true) or `limit` passes (false).
    static func poll(within limit: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
        let start = ContinuousClock.now
        while ContinuousClock.now - start < limit {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}
