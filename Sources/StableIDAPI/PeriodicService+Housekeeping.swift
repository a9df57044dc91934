import ChangeFeed
public import IdentityMap
public import Logging
import LookupCache

extension PeriodicService {
    /// ``Housekeeping`` every few minutes in every replica (the deletes are idempotent), the
    /// lookup caches' change log pruned past the retention a follower could need, and the change
    /// feed pruned past `changesRetention` (`STABLEID_CHANGES_RETENTION_DAYS`).
    public static func housekeeping(
        database: Database, logger: Logger, interval: Duration = .seconds(300), changesRetention: Duration = .seconds(7 * 24 * 3600)
    ) -> PeriodicService {
        let housekeeping = Housekeeping(database: database)
        return PeriodicService(name: "housekeeping", interval: interval, runsAtStart: true, logger: logger) { shuttingDown in
            guard !shuttingDown else { return }
            let removed = try await housekeeping.run()
            // Its own failure must not stop the rest, nor theirs it.
            let changes: Int
            do {
                changes = try await IdentityChangeLog.prune(on: database)
            } catch {
                changes = 0
                logger.warning("pruning the identity change log failed; will retry", metadata: ["error": "\(type(of: error))"])
            }
            let feed: Int
            do {
                feed = try await ChangeFeedLog.prune(olderThan: changesRetention, on: database)
            } catch {
                feed = 0
                logger.warning("pruning the change feed failed; will retry", metadata: ["error": "\(type(of: error))"])
            }
            if removed.idempotencyKeys + removed.stagingRows + removed.pendingLinks + removed.reportSessions + changes + feed > 0 {
                logger.info(
                    "housekeeping",
                    metadata: [
                        "idempotency_keys_removed": "\(removed.idempotencyKeys)", "staging_rows_removed": "\(removed.stagingRows)",
                        "pending_links_removed": "\(removed.pendingLinks)", "identity_changes_removed": "\(changes)",
                        "report_sessions_removed": "\(removed.reportSessions)", "feed_changes_removed": "\(feed)",
                    ]
                )
            }
        }
    }
}
