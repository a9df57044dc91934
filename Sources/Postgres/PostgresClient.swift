import Dispatch
import Foundation
public import Logging
import Support
import Synchronization

/// A bounded pool of libpq connections for async code.
///
/// libpq blocks, so each pool slot owns a ``BlockingExecutor`` (its own thread while busy) and every
/// statement runs there; awaiting callers suspend instead of blocking the cooperative thread pool.
/// Broken connections are dropped and reopened on next use, with exponential backoff after failed
/// connects so a database outage produces fast `.connection` errors instead of a pile-up.
public final class PostgresClient: Sendable {
    public struct Configuration: Sendable {
        /// libpq connection string or URI; empty means libpq's `PG*` environment variables.
        public var conninfo: String
        public var maxConnections: Int
        /// How long a caller waits for a free connection before `.poolExhausted`.
        public var acquireTimeout: Duration
        public var connectTimeoutSeconds: Int
        public var applicationName: String
        public var session: SessionSettings

        public init(
            conninfo: String,
            maxConnections: Int = 16,
            acquireTimeout: Duration = .seconds(5),
            connectTimeoutSeconds: Int = 5,
            applicationName: String = "stableid",
            session: SessionSettings = SessionSettings()
        ) {
            self.conninfo = conninfo
            self.maxConnections = max(1, maxConnections)
            self.acquireTimeout = acquireTimeout
            self.connectTimeoutSeconds = connectTimeoutSeconds
            self.applicationName = applicationName
            self.session = session
        }
    }

    /// Point-in-time pool occupancy, for gauges and `/readyz`.
    public struct Statistics: Sendable, Equatable {
        public var open: Int
        public var idle: Int
        public var leased: Int
        public var waiting: Int
    }

    final class Slot: @unchecked Sendable {
        // The vars are only touched by bodies running on `executor`.
        let executor: BlockingExecutor
        var connection: PostgresConnection?
        var failures = 0
        var retryAfter: ContinuousClock.Instant?

        init(index: Int) {
            executor = BlockingExecutor(label: "stableid.postgres.slot\(index)")
        }
    }

    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<Slot, any Error>
    }

    private struct State {
        var idle: [Slot]
        var waiters: [Waiter] = []
        var nextWaiterID: UInt64 = 0
        var leased = 0
        var closed = false
    }

    public let configuration: Configuration
    private let logger: Logger
    private let state: Mutex<State>
    private let openConnections = Atomic<Int>(0)

    public init(configuration: Configuration, logger: Logger = Logger(label: "stableid.postgres")) {
        self.configuration = configuration
        self.logger = logger
        let slots = (0..<configuration.maxConnections).map(Slot.init(index:))
        // Reversed so that `popLast` hands out slot 0 first and warm connections are reused (LIFO).
        self.state = Mutex(State(idle: slots.reversed()))
    }

    public var statistics: Statistics {
        state.withLock { state in
            Statistics(
                open: openConnections.load(ordering: .relaxed),
                idle: state.idle.count,
                leased: state.leased,
                waiting: state.waiters.count
            )
        }
    }

    /// Leases a connection, runs `body` on the slot's thread, and returns the connection to the pool.
    ///
    /// `body` is synchronous on purpose: a lease cannot be held across an `await`, so a slow caller
    /// cannot pin a connection while it does something else. A caller cancelled while waiting never
    /// runs `body`; once `body` has started, the caller waits for its outcome (it may have
    /// committed), and the slot goes back to the pool only then.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let slot = try await acquire()
        defer { release(slot) }
        return try await slot.executor.runToCompletion {
            let connection = try self.connection(for: slot)
            do {
                return try body(connection)
            } catch {
                self.cleanUp(slot: slot)
                throw error
            }
        }
    }

    /// Runs `body` in a transaction, retrying it on serialization failures and deadlocks.
    public func transaction<T: Sendable>(
        isolation: PostgresConnection.IsolationLevel = .readCommitted,
        maxAttempts: Int = 5,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection { connection in
            try connection.transaction(isolation: isolation, maxAttempts: maxAttempts, body)
        }
    }

    /// Convenience for a single statement.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRows {
        try await withConnection { try $0.query(query) }
    }

    /// Closes idle connections and fails current and future waiters.
    public func shutdown() {
        let (waiters, idle) = state.withLock { state -> ([Waiter], [Slot]) in
            state.closed = true
            defer { state.waiters.removeAll() }
            return (state.waiters, state.idle)
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(kind: .poolClosed, message: "pool shut down"))
        }
        for slot in idle {
            slot.executor.runSynchronously {
                if slot.connection != nil {
                    slot.connection = nil
                    openConnections.subtract(1, ordering: .relaxed)
                }
            }
        }
    }

    // MARK: Slot handling (runs on the slot's executor)

    private func connection(for slot: Slot) throws -> PostgresConnection {
        if let connection = slot.connection {
            if connection.isHealthy { return connection }
            slot.connection = nil
            openConnections.subtract(1, ordering: .relaxed)
        }
        if let retryAfter = slot.retryAfter, ContinuousClock.now < retryAfter {
            throw PostgresError(kind: .connection, message: "database unreachable; reconnect backing off")
        }
        do {
            let connection = try PostgresConnection.connect(
                conninfo: configuration.conninfo,
                applicationName: configuration.applicationName,
                connectTimeoutSeconds: configuration.connectTimeoutSeconds,
                session: configuration.session
            )
            slot.connection = connection
            slot.failures = 0
            slot.retryAfter = nil
            openConnections.add(1, ordering: .relaxed)
            return connection
        } catch {
            slot.failures += 1
            // 50 ms, 100 ms, … capped at 5 s.
            let backoff = min(5_000, 50 << min(slot.failures - 1, 7))
            slot.retryAfter = ContinuousClock.now + .milliseconds(backoff)
            logger.warning(
                "postgres connect failed",
                metadata: ["error": "\(error)", "attempt": "\(slot.failures)", "backoff_ms": "\(backoff)"]
            )
            throw error
        }
    }

    /// After a failed body: roll back an open transaction, or drop a broken connection.
    private func cleanUp(slot: Slot) {
        guard let connection = slot.connection else { return }
        if !connection.isHealthy {
            slot.connection = nil
            openConnections.subtract(1, ordering: .relaxed)
            return
        }
        if connection.isInTransaction {
            do {
                try connection.execute("ROLLBACK")
            } catch {
                slot.connection = nil
                openConnections.subtract(1, ordering: .relaxed)
            }
        }
    }

    // MARK: Leasing

    private func acquire() async throws -> Slot {
        enum Decision {
            case slot(Slot)
            case fail(PostgresError)
            case wait
        }
        let immediate: Decision = state.withLock { state in
            if state.closed { return .fail(PostgresError(kind: .poolClosed, message: "pool shut down")) }
            if let slot = state.idle.popLast() {
                state.leased += 1
                return .slot(slot)
            }
            return .wait
        }
        switch immediate {
        case .slot(let slot): return slot
        case .fail(let error): throw error
        case .wait: break
        }
        let waiterID: UInt64 = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let timeout = configuration.acquireTimeout
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Slot, any Error>) in
                let handedOver: Slot? = state.withLock { state in
                    // A slot may have come back between the first check and now.
                    if let slot = state.idle.popLast() {
                        state.leased += 1
                        return slot
                    }
                    state.waiters.append(Waiter(id: waiterID, continuation: continuation))
                    return nil
                }
                if let handedOver {
                    continuation.resume(returning: handedOver)
                    return
                }
                // Cancelled before the waiter was listed: the handler below found nothing to fail.
                if Task.isCancelled {
                    failWaiter(id: waiterID, with: CancellationError())
                    return
                }
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(timeout.nanoseconds))) { [weak self] in
                    self?.failWaiter(
                        id: waiterID, with: PostgresError(kind: .poolExhausted, message: "no connection free within the acquire timeout"))
                }
            }
        } onCancel: {
            self.failWaiter(id: waiterID, with: CancellationError())
        }
    }

    private func failWaiter(id: UInt64, with error: any Error) {
        let waiter: Waiter? = state.withLock { state in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: error)
    }

    private func release(_ slot: Slot) {
        let waiter: Waiter? = state.withLock { state in
            if !state.waiters.isEmpty {
                return state.waiters.removeFirst()
            }
            state.leased -= 1
            state.idle.append(slot)
            return nil
        }
        // The lease passes straight to the oldest waiter; `leased` stays the same.
        waiter?.continuation.resume(returning: slot)
    }
}
