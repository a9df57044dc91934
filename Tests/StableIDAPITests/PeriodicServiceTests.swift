import Logging
import StableIDAPI
import Synchronization
import Testing

/// The one loop of `serve`'s periodic work.
@Suite("Periodic service", .timeLimit(.minutes(3)))
struct PeriodicServiceTests {
    final class Calls: Sendable {
        let state = Mutex<[Bool]>([])
        func append(_ shuttingDown: Bool) { state.withLock { $0.append(shuttingDown) } }
        var all: [Bool] { state.withLock { $0 } }
    }

    struct Failure: Error {}

    @Test("runs its work every interval, goes on after a failure, and runs once more, told so, when it stops")
    func loop() async throws {
        let calls = Calls()
        let service = PeriodicService(name: "test", interval: .milliseconds(10), runsAtStart: true, logger: Logger(label: "test")) {
            shuttingDown in
            calls.append(shuttingDown)
            if calls.all.count == 2 { throw Failure() }
        }
        let task = Task { try await service.run() }
        let deadline = ContinuousClock.now + .seconds(30)
        while calls.all.count < 4, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        task.cancel()
        try await task.value
        let seen = calls.all
        #expect(seen.count >= 5, "\(seen)")
        #expect(seen.dropLast().allSatisfy { !$0 } && seen.last == true, "only the last call is told it is the end: \(seen)")
    }
}
