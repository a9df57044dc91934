import Foundation
import Support
import Synchronization
import Testing

@Suite("BlockingExecutor", .timeLimit(.minutes(2)))
struct BlockingExecutorTests {
    struct Failure: Error, Equatable {}

    /// Shared state between a test and the bodies it submits.
    final class Probe: Sendable {
        private let state = Mutex<(started: Int, finished: Int, running: Int, maxRunning: Int)>((0, 0, 0, 0))

        var started: Int { state.withLock { $0.started } }
        var finished: Int { state.withLock { $0.finished } }
        var maxRunning: Int { state.withLock { $0.maxRunning } }

        /// Marks a body running for `seconds` of blocking sleep, as a C call would block.
        func block(for seconds: TimeInterval) {
            state.withLock { state in
                state.started += 1
                state.running += 1
                state.maxRunning = max(state.maxRunning, state.running)
            }
            Thread.sleep(forTimeInterval: seconds)
            state.withLock { state in
                state.running -= 1
                state.finished += 1
            }
        }

        /// Fails (instead of hanging) when `count` bodies have not started within a generous minute.
        func waitUntilStarted(_ count: Int = 1) async throws {
            try #require(try await BlockingExecutorTests.waitFor(.seconds(60)) { self.started >= count }, "\(count) bodies never started")
        }
    }

    /// Polls `condition` until it holds (true) or `limit` passes (false). (SupportTests depends on
    /// Support alone, so TestSupport's `waitUntil` is not at hand.)
    static func waitFor(_ limit: Duration, _ condition: () -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while !condition() {
            guard ContinuousClock.now < deadline else { return false }
            try await Task.sleep(for: .milliseconds(5))
        }
        return true
    }

    /// An append-only list the bodies write to (a `Mutex` itself cannot be captured by them).
    final class Log: Sendable {
        private let items = Mutex<[Int]>([])
        func append(_ item: Int) { items.withLock { $0.append(item) } }
        var values: [Int] { items.withLock { $0 } }
    }

    @Test("returns the body's value and rethrows its error")
    func results() async throws {
        let executor = BlockingExecutor(label: "test.results")
        #expect(try await executor.run { 6 * 7 } == 42)
        await #expect(throws: Failure.self) { try await executor.run { () throws -> Int in throw Failure() } }
        #expect(try await executor.runToCompletion { "done" } == "done")
        #expect(executor.runSynchronously { 1 + 1 } == 2)
    }

    @Test("bodies run one at a time, in submission order")
    func serial() async throws {
        let executor = BlockingExecutor(label: "test.serial")
        let probe = Probe()
        let order = Log()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<8 {
                group.addTask {
                    try await executor.run {
                        probe.block(for: 0.005)
                        order.append(index)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(probe.finished == 8 && probe.maxRunning == 1 && Set(order.values) == Set(0..<8))
        // Tasks of a group start in any order; what is queued, runs in queue order.
        let marker = Log()
        for index in 0..<5 { executor.enqueue { marker.append(index) } }
        try await executor.run {}
        #expect(marker.values == [0, 1, 2, 3, 4])
    }

    @Test("a task cancelled before calling run gets CancellationError and the body never runs")
    func cancelledBeforeRun() async throws {
        let executor = BlockingExecutor(label: "test.cancelled-before")
        let probe = Probe()
        let task = Task {
            try? await Task.sleep(for: .seconds(60))  // ends early once cancelled
            try await executor.run { probe.block(for: 0) }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        try await executor.run {}
        #expect(probe.started == 0)
    }

    @Test("a caller cancelled while its body is queued returns at once; the body never runs")
    func cancelledWhileQueued() async throws {
        let executor = BlockingExecutor(label: "test.cancelled-queued")
        let first = Probe()
        let second = Probe()
        // Long enough that a saturated machine cannot let it end before the cancelled caller returns.
        let blocker = Task { try await executor.run { first.block(for: 15) } }
        try await first.waitUntilStarted()
        let waiter = Task { try await executor.run { second.block(for: 0) } }
        // Cancelled only once its body is queued: cancelling earlier would test the path of a
        // caller cancelled before it called run.
        try #require(try await Self.waitFor(.seconds(60)) { executor.queuedBodies == 1 }, "the waiter's body never queued")
        waiter.cancel()
        await #expect(throws: CancellationError.self) { try await waiter.value }
        // Returned while the first body still blocks (no wall-clock bound on a shared machine).
        #expect(first.finished == 0)
        try await blocker.value
        try await executor.run {}
        #expect(second.started == 0)
    }

    @Test("cancelled while the body runs: the caller returns at once, the body finishes on its thread")
    func cancelledWhileRunning() async throws {
        let executor = BlockingExecutor(label: "test.cancelled-running")
        let probe = Probe()
        let task = Task {
            try await executor.run {
                probe.block(for: 15)
                return 1
            }
        }
        try await probe.waitUntilStarted()
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        #expect(probe.finished == 0)
        // The next body waits for the abandoned one: the executor stays serial.
        try await executor.run {}
        #expect(probe.finished == 1)
    }

    @Test("runToCompletion: once started, the caller waits for the outcome even when cancelled")
    func runToCompletion() async throws {
        let executor = BlockingExecutor(label: "test.to-completion")
        let probe = Probe()
        let task = Task {
            try await executor.runToCompletion {
                probe.block(for: 0.2)
                return "committed"
            }
        }
        try await probe.waitUntilStarted()
        task.cancel()
        #expect(try await task.value == "committed")
        #expect(probe.finished == 1)
    }

    @Test("a timeout resumes the caller with timedOut, while running or still queued")
    func timeout() async throws {
        let executor = BlockingExecutor(label: "test.timeout")
        let slow = Probe()
        let queued = Probe()
        // The slow body blocks until the test lets it go, as a C call stuck on a lock would: the
        // assertions then hold however late the shared cooperative pool resumes this test.
        let release = DispatchSemaphore(value: 0)
        await #expect(throws: BlockingExecutorError.timedOut) {
            try await executor.run(timeout: .milliseconds(50)) {
                slow.block(for: 0)
                _ = release.wait(timeout: .now() + 30)
            }
        }
        // Queued behind the stuck body, this one times out before it could start, and never does.
        await #expect(throws: BlockingExecutorError.timedOut) {
            try await executor.run(timeout: .milliseconds(50)) { queued.block(for: 0) }
        }
        release.signal()
        try await executor.run {}
        #expect(slow.finished == 1 && queued.started == 0)
        // A body within its timeout is unaffected.
        #expect(try await executor.run(timeout: .seconds(5)) { 7 } == 7)
    }
}
