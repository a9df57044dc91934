import Foundation
import TestSupport

/// scripts/lib/throttle_proxy.py in front of moto: answers the first `throttleFirst` requests of
/// `operation` with `TooManyRequestsException` (as Cognito does past a quota), forwards the rest,
/// and counts both (`GET /stats`).
struct ThrottleProxy {
    let process: Process
    let port: Int

    var base: String { "http://127.0.0.1:\(port)" }

    /// What the CLI under test is given, so it talks to moto through the proxy.
    var environment: [String: String] {
        ["AWS_ENDPOINT_URL": base, "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": base]
    }

    static func start(operation: String, throttleFirst: Int) async throws -> ThrottleProxy {
        guard let moto = ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"], !moto.isEmpty else {
            throw MissingEnvironment(message: "AWS_ENDPOINT_URL is not set: run the tests through scripts/test, which starts moto")
        }
        let port = try CLI.freePort()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", CLI.repositoryRoot + "/scripts/lib/throttle_proxy.py", "--port", String(port), "--upstream", moto,
            "--operation", operation, "--rate", "10000", "--burst", "10000", "--throttle-first", String(throttleFirst),
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let proxy = ThrottleProxy(process: process, port: port)
        let up = try await ServeProcess.poll(within: .seconds(20)) { (try? await CLI.http("GET", "\(proxy.base)/healthz").0) == 200 }
        guard up else {
            proxy.stop()
            throw MissingEnvironment(message: "scripts/lib/throttle_proxy.py did not start (python3 needed)")
        }
        return proxy
    }

    /// The limited operation's requests: forwarded to moto, and answered as throttled.
    func counts() async throws -> (forwarded: Int, throttled: Int) {
        let (_, body) = try await CLI.http("GET", "\(base)/stats")
        let stats = (try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])?["limited"] as? [String: Any]
        return (stats?["forwarded"] as? Int ?? -1, stats?["throttled"] as? Int ?? -1)
    }

    /// Stops it without `waitUntilExit` (see `FailingCognitoProxy.stop`).
    func stop() {
        process.terminate()
        let deadline = ContinuousClock.now + .seconds(2)
        while process.isRunning, ContinuousClock.now < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
