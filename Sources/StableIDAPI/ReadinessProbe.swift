public import IdentityMap
public import Logging
import Postgres
public import ServiceLifecycle
import Synchronization

/// Answers "can this replica serve?" for `/readyz` from a background check on connections of
/// its own, so that load balancers polling readiness neither take connections from the API's
/// pool nor queue behind it, and unauthenticated traffic never reaches the database this way.
///
/// Ready means: the last check, at most ``staleAfter`` ago, reached the primary (and the
/// replica, when there is one) within the statement timeout.
public final class ReadinessProbe: Service, Sendable {
    private let clients: [PostgresClient]
    private let interval: Duration
    private let logger: Logger
    private let lastSuccess = Mutex<ContinuousClock.Instant?>(nil)
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
    }

    public var isReady: Bool {
        guard let last = lastSuccess.withLock({ $0 }) else { return false }
        return ContinuousClock.now - last <= Self.staleAfter
    }

    /// One check now; the service loop calls this every `interval`.
    public func check() async {
        do {
            for client in clients { try await client.query("SELECT 1") }
            let wasReady = isReady
            lastSuccess.withLock { $0 = .now }
            if !wasReady { logger.info("database reachable: ready") }
        } catch {
            if isReady { logger.warning("database unreachable: not ready", metadata: ["error": "\(error)"]) }
            lastSuccess.withLock { $0 = nil }
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
