import IdentityMap
public import Logging
public import ServiceLifecycle
public import UserMigration

/// Runs ``TargetFactsRefresh`` every `interval` (10 minutes by default) in every replica: the
/// triggers then trust a target pool's claims by what the pool allows now, within that interval.
public struct TargetFactsRefreshService: Service {
    let refresh: TargetFactsRefresh
    let logger: Logger
    let interval: Duration

    public init(refresh: TargetFactsRefresh, logger: Logger, interval: Duration = .seconds(600)) {
        self.refresh = refresh
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        let attribution = Attribution(actor: .system)
        while !Task.isCancelledOrShuttingDown {
            // A long sleep must not hold up a graceful shutdown; the first pass waits one interval
            // (a starting replica has its facts from the campaign and the last reconciliation).
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            guard !Task.isCancelledOrShuttingDown else { return }
            do {
                try await refresh.run(attribution: attribution)
            } catch {
                logger.warning("refreshing target pool facts failed; will retry", metadata: ["error": "\(type(of: error))"])
            }
        }
    }
}
