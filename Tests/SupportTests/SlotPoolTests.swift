import Support
import Synchronization
import Testing

/// No assertion here depends on how fast the machine is: a test waits for the state it needs
/// (a waiter in line) instead of sleeping for a while, deadlines that must not pass are a minute
/// away, and the one that must pass is waited for, however late it fires.
@Suite("SlotPool", .timeLimit(.minutes(2)))
struct SlotPoolTests {
    /// An append-only list the waiting tasks write to.
    final class Log: Sendable {
        private let items = Mutex<[String]>([])
        func append(_ item: String) { items.withLock { $0.append(item) } }
        var values: [String] { items.withLock { $0 } }
    }

    /// A deadline no test reaches.
    static var far: ContinuousClock.Instant { ContinuousClock.now + .seconds(60) }

    /// Returns once `count` callers wait in line.
    static func waitUntilWaiting(_ pool: SlotPool<Int>, _ count: Int) async throws {
        while pool.statistics.waiting < count { try await Task.sleep(for: .milliseconds(5)) }
    }

    @Test("free resources go out last first without waiting, and come back on release")
    func acquireRelease() async throws {
        let pool = SlotPool([1, 2, 3])
        #expect(pool.statistics == .init(idle: 3, leased: 0, waiting: 0))
        let first = try await pool.acquire(until: Self.far)
        let second = try await pool.acquire(until: Self.far)
        #expect(first == 3 && second == 2)
        #expect(pool.statistics == .init(idle: 1, leased: 2, waiting: 0))
        pool.release(second)
        // The one released last goes out first: warm connections are reused.
        #expect(try await pool.acquire(until: Self.far) == 2)
        pool.release(2)
        pool.release(first)
        #expect(pool.statistics == .init(idle: 3, leased: 0, waiting: 0))
        // A deadline already past still gets a resource that is free now.
        #expect(try await pool.acquire(until: ContinuousClock.now - .seconds(1)) == 3)
    }

    @Test("waiters are served in arrival order, each by a release handed straight to it")
    func fifo() async throws {
        let pool = SlotPool([7])
        let held = try await pool.acquire(until: Self.far)
        let order = Log()
        var waiters: [Task<Void, any Error>] = []
        for name in ["a", "b", "c"] {
            waiters.append(
                Task {
                    let resource = try await pool.acquire(until: Self.far)
                    order.append(name)
                    pool.release(resource)
                })
            try await Self.waitUntilWaiting(pool, waiters.count)
        }
        #expect(pool.statistics == .init(idle: 0, leased: 1, waiting: 3))
        pool.release(held)
        for waiter in waiters { try await waiter.value }
        #expect(order.values == ["a", "b", "c"])
        #expect(pool.statistics == .init(idle: 1, leased: 0, waiting: 0))
    }

    @Test("a waiter whose deadline passes gets timedOut and leaves the line")
    func timeout() async throws {
        let pool = SlotPool([7])
        let held = try await pool.acquire(until: Self.far)
        await #expect(throws: SlotPoolError.timedOut) {
            try await pool.acquire(until: ContinuousClock.now + .milliseconds(50))
        }
        #expect(pool.statistics == .init(idle: 0, leased: 1, waiting: 0))
        // The resource released later goes back to the free list, not to the waiter that gave up.
        pool.release(held)
        #expect(pool.statistics == .init(idle: 1, leased: 0, waiting: 0))
    }

    @Test("a queued waiter cancelled returns at once; the next in line keeps its place")
    func cancelQueued() async throws {
        let pool = SlotPool([7])
        let held = try await pool.acquire(until: Self.far)
        let first = Task { try await pool.acquire(until: Self.far) }
        try await Self.waitUntilWaiting(pool, 1)
        let second = Task { try await pool.acquire(until: Self.far) }
        try await Self.waitUntilWaiting(pool, 2)
        first.cancel()
        await #expect(throws: SlotPoolError.cancelled) { try await first.value }
        #expect(pool.statistics == .init(idle: 0, leased: 1, waiting: 1))
        pool.release(held)
        #expect(try await second.value == 7)
        #expect(pool.statistics == .init(idle: 0, leased: 1, waiting: 0))
    }

    @Test("a task cancelled before it waits gets cancelled, unless a resource is free")
    func cancelledBeforeWaiting() async throws {
        let pool = SlotPool([7])
        let held = try await pool.acquire(until: Self.far)
        let late = Task {
            try? await Task.sleep(for: .seconds(60))  // ends early once cancelled
            return try await pool.acquire(until: Self.far)
        }
        late.cancel()
        await #expect(throws: SlotPoolError.cancelled) { try await late.value }
        #expect(pool.statistics.waiting == 0)
        // With a resource free, the pool hands it over; owners that must not start work for a
        // cancelled caller check for themselves.
        pool.release(held)
        let served = Task {
            try? await Task.sleep(for: .seconds(60))
            return try await pool.acquire(until: Self.far)
        }
        served.cancel()
        #expect(try await served.value == 7)
    }

    @Test("close fails every waiter and every later acquire, and returns the free resources")
    func close() async throws {
        let pool = SlotPool([1, 2])
        let held = try await pool.acquire(until: Self.far)
        let taken = try await pool.acquire(until: Self.far)
        let waiters = (0..<2).map { _ in Task { try await pool.acquire(until: Self.far) } }
        try await Self.waitUntilWaiting(pool, 2)
        #expect(pool.close() == [])
        for waiter in waiters {
            await #expect(throws: SlotPoolError.closed) { try await waiter.value }
        }
        await #expect(throws: SlotPoolError.closed) { try await pool.acquire(until: Self.far) }
        // Leased resources still come back, and are what a later close hands over.
        pool.release(held)
        pool.release(taken)
        #expect(pool.statistics == .init(idle: 2, leased: 0, waiting: 0))
        #expect(Set(pool.close()) == [1, 2])
    }
}
