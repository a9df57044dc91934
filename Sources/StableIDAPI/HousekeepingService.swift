public import IdentityMap
public import Logging
import LookupCache
public import ServiceLifecycle

/// Runs ``Housekeeping`` every few minutes in every replica (the deletes are idempotent).
public struct HousekeepingService: Service {
    let housekeeping: Housekeeping
    let logger: Logger
    let interval: Duration

    public init(database: Database, logger: Logger, interval: Duration = .seconds(300)) {
        self.housekeeping = Housekeeping(database: database)
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        while !Task.isCancelledOrShuttingDown {
            do {
                let removed = try await housekeeping.run()
                // The lookup caches' change log: rows past the retention a follower could need.
                // Its own failure must not stop the rest, nor theirs it.
                let changes: Int
                do {
                    changes = try await IdentityChangeLog.prune(on: housekeeping.database)
                } catch {
                    changes = 0
                    logger.warning("pruning the identity change log failed; will retry", metadata: ["error": "\(type(of: error))"])
                }
                if removed.idempotencyKeys + removed.stagingRows + removed.pendingLinks + changes > 0 {
                    logger.info(
                        "housekeeping",
                        metadata: [
                            "idempotency_keys_removed": "\(removed.idempotencyKeys)", "staging_rows_removed": "\(removed.stagingRows)",
                            "pending_links_removed": "\(removed.pendingLinks)", "identity_changes_removed": "\(changes)",
                        ]
                    )
                }
            } catch {
                logger.warning("housekeeping failed; will retry", metadata: ["error": "\(type(of: error))"])
            }
            // A long sleep must not hold up a graceful shutdown.
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
