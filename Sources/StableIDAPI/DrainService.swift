public import IdentityMap
public import Logging
public import ServiceLifecycle
import UnixSignals

/// The first thing a shutdown does: `/readyz` turns 503 at once, and requests keep being answered
/// for `period`, so a load balancer that polls readiness (or has not yet deregistered this target)
/// stops sending before the listener closes. Then the application's own graceful shutdown runs:
/// the listener closes, idle keep-alive connections are closed, requests in flight finish, and the
/// sealer and the feed stop.
///
/// It must be shut down before the application, so it comes after it in the service group
/// (``runApplication(configuration:database:logger:)``): a group shuts its services down in
/// reverse order, each once the one after it has returned.
public struct DrainService: Service {
    let drain: DrainSignal
    let period: Duration
    let logger: Logger

    public init(drain: DrainSignal, period: Duration, logger: Logger) {
        self.drain = drain
        self.period = period
        self.logger = logger
    }

    public func run() async throws {
        // Returns when the shutdown begins (or the task is cancelled).
        try? await gracefulShutdown()
        guard !Task.isCancelled else { return }
        drain.beginDraining()
        logger.info("draining: /readyz answers 503; still serving", metadata: ["drain_seconds": "\(period.components.seconds)"])
        try? await Task.sleep(for: period)
        logger.info("drained; closing the listener")
    }
}

/// `serve`: the application and, ahead of its shutdown, the drain period, under one service group
/// that turns SIGTERM and SIGINT into a graceful shutdown.
public func runApplication(configuration: APIConfiguration, database: Database, logger: Logger) async throws {
    let drain = DrainSignal()
    let app = buildApplication(configuration: configuration, database: database, logger: logger, drain: drain)
    let group = ServiceGroup(
        configuration: .init(
            services: [app, DrainService(drain: drain, period: configuration.drainPeriod, logger: logger)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger
        )
    )
    try await group.run()
}
