import IdentityMap
public import Logging
public import ServiceLifecycle
public import UserMigration

/// Writes the counted sign-ins of unknown usernames (``MigrationRefusalTally``) once their
/// minute has passed, even when no further attempt comes to carry them, and whatever is left at
/// shutdown.
public struct MigrationRefusalService: Service {
    let triggers: TriggerService
    let logger: Logger
    let interval: Duration

    public init(triggers: TriggerService, logger: Logger, interval: Duration = .seconds(15)) {
        self.triggers = triggers
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        let attribution = Attribution(actor: .system)
        while !Task.isCancelledOrShuttingDown {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            let batches = Task.isCancelledOrShuttingDown ? triggers.refusals.tally.drainAll() : triggers.refusals.tally.drainDue()
            do {
                try await triggers.writeRefusalCounts(batches, attribution: attribution)
            } catch {
                triggers.refusals.tally.restore(batches)
                logger.warning(
                    "writing counted migration refusals failed", metadata: ["error": "\(type(of: error))", "batches": "\(batches.count)"])
            }
        }
    }
}
