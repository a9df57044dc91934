public import IdentityMap
public import Logging
import Postgres
public import ServiceLifecycle
import Synchronization

/// Answers "can this replica serve?" for `/readyz` from a background check on connections of
/// its own, so that load balancers polling readiness neither take connections from the API's
/// pool nor queue behind it, and unauthenticated traffic never reaches the database this way.
///
/// Ready means: the last check, at most ``staleAfter`` ago, reached the database lookups read
/// within the statement timeout — the primary, or the replica when `DATABASE_READ_URL` is set.
/// With a replica, a server whose primary is down stays in rotation: lookups go on (from memory
/// and the replica) while writes answer 503, which is the point of having the replica.
public final class ReadinessProbe: Service, Sendable {
    /// The primary first, then the replica when there is one.
    private let clients: [PostgresClient]
    private let interval: Duration
    private let logger: Logger
    private let lastSuccess = Mutex<[ContinuousClock.Instant?]>([])
    static let staleAfter: Duration = .seconds(3)

    public init(database: Database, interval: Duration = .milliseconds(500), logger: Logger) {
        let session = SessionSettings(statementTimeoutMilliseconds: 1_000, lockTimeoutMilliseconds: 500, tcpUserTimeoutMilliseconds: 2_000)
        var urls = [database.primary.configuration.conninfo]
        if database.reader !== database.primary { urls.append(database.reader.configuration.conninfo) }
        self.clients = urls.map {
            PostgresClient(
                configuration: .init(
                    conninfo: $0, maxConnections: 1, acquireTimeout: .seconds(1), connectTimeoutSeconds: 2,
                    applicationName: "stableid-readiness", session: session
                ),
                logger: logger
            )
        }
        self.interval = interval
        self.logger = logger
        self.lastSuccess.withLock { $0 = Array(repeating: nil, count: clients.count) }
    }

    private func fresh(_ index: Int) -> Bool {
        guard let last = lastSuccess.withLock({ $0[index] }) else { return false }
        return ContinuousClock.now - last <= Self.staleAfter
    }

    /// The database lookups read (the replica when there is one) answered lately.
    public var isReady: Bool { fresh(clients.count - 1) }

    /// The primary answered lately (writes can succeed).
    public var isPrimaryReachable: Bool { fresh(0) }

    /// One check now; the service loop calls this every `interval`.
    public func check() async {
        let wasReady = isReady
        let primaryWasUp = isPrimaryReachable
        // Each database on its own: a primary that hangs (rather than refusing) must not make the
        // replica's check late, or every server would leave the rotation with it.
        await withTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask { [self] in
                    let answered = (try? await client.query("SELECT 1")) != nil
                    self.lastSuccess.withLock { $0[index] = answered ? .now : nil }
                }
            }
        }
        if wasReady != isReady {
            if isReady { logger.info("database reachable: ready") } else { logger.warning("database unreachable: not ready") }
        }
        if clients.count > 1, primaryWasUp != isPrimaryReachable {
            if isPrimaryReachable {
                logger.info("primary reachable again: writes accepted")
            } else {
                logger.warning("primary unreachable: lookups go on from the replica, writes answer 503")
            }
        }
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            await check()
            try? await Task.sleep(for: interval)
        }
        clients.forEach { $0.shutdown() }
    }
}
