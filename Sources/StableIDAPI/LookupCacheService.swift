public import IdentityMap
public import Logging
public import LookupCache
import Postgres
public import ServiceLifecycle

/// Runs the ``LookupCacheFollower`` for the server's lookup cache: warm-up, then the change feed,
/// on a connection of its own to the reader database. Until the cache is live every lookup goes
/// to PostgreSQL, so the server is ready (`/readyz`) as soon as the database is, warm or not.
public struct LookupCacheService: Service {
    let follower: LookupCacheFollower

    public init(cache: LookupCache, database: Database, logger: Logger) {
        self.follower = LookupCacheFollower(cache: cache, conninfo: database.reader.configuration.conninfo, logger: logger)
    }

    public func run() async throws {
        // The follower stops when cancelled; a graceful shutdown cancels it, so it never holds one up.
        await cancelWhenGracefulShutdown { [follower] in
            await follower.run()
        }
    }
}
