import Foundation
public import Logging
import Support
import Synchronization

/// A bounded pool of libpq connections for async code.
///
/// libpq blocks, so each pool slot owns a ``BlockingExecutor`` (its own thread while busy) and every
/// statement runs there; awaiting callers suspend instead of blocking the cooperative thread pool.
/// Broken connections are dropped and reopened on next use, with exponential backoff after failed
/// connects so a database outage produces fast `.connection` errors instead of a pile-up. Slots
/// are leased through Support's ``SlotPool`` (the same pool as `CurlClient`'s): callers wait in
/// arrival order, at most `acquireTimeout`, and its outcomes map to ``PostgresError``.
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
        /// Connections leased since the pool was made (a running count): how tests show that a
        /// path asked no database.
        public var leases: Int
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

    public let configuration: Configuration
    private let logger: Logger
    private let slots: SlotPool<Slot>
    private let openConnections = Atomic<Int>(0)
    private let leaseCount = Atomic<Int>(0)

    public init(configuration: Configuration, logger: Logger = Logger(label: "stableid.postgres")) {
        self.configuration = configuration
        self.logger = logger
        let slots = (0..<configuration.maxConnections).map(Slot.init(index:))
        // Reversed so that slot 0 goes out first; the pool reuses warm connections (LIFO).
        self.slots = SlotPool(slots.reversed())
    }

    public var statistics: Statistics {
        let pool = slots.statistics
        return Statistics(
            open: openConnections.load(ordering: .relaxed),
            idle: pool.idle,
            leased: pool.leased,
            waiting: pool.waiting,
            leases: leaseCount.load(ordering: .relaxed)
        )
    }

    /// Leases a connection, runs `body` on the slot's thread, and returns the connection to the pool.
    ///
    /// `body` is synchronous on purpose: a lease cannot be held across an `await`, so a slow caller
    /// cannot pin a connection while it does something else. A caller cancelled while waiting never
    /// runs `body`; once `body` has started, the caller waits for its outcome (it may have
    /// committed), and the slot goes back to the pool only then.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        let slot = try await acquire()
        leaseCount.add(1, ordering: .relaxed)
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
        // The waiters fail first (with `.poolClosed`, see `acquire`), then the idle connections close.
        for slot in slots.close() {
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

    /// A slot from the pool; a cancelled caller still gets a free one (its body then starts or
    /// not as ``BlockingExecutor/runToCompletion(_:)`` decides).
    private func acquire() async throws -> Slot {
        do throws(SlotPoolError) {
            return try await slots.acquire(until: ContinuousClock.now + configuration.acquireTimeout)
        } catch {
            switch error {
            case .timedOut: throw PostgresError(kind: .poolExhausted, message: "no connection free within the acquire timeout")
            case .cancelled: throw CancellationError()
            case .closed: throw PostgresError(kind: .poolClosed, message: "pool shut down")
            }
        }
    }

    private func release(_ slot: Slot) {
        slots.release(slot)
    }
}
