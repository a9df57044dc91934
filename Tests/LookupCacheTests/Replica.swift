import Logging

@testable import LookupCache

extension LookupCache.Configuration {
    /// Small pages and batches so tests cross their boundaries; a generous staleness bound so a
    /// slow CI machine does not flap the cache off between assertions.
    static func forTests(listen: Bool = true) -> LookupCache.Configuration {
        LookupCache.Configuration(
            shardCount: 8, pollInterval: .milliseconds(20), maxStaleness: .seconds(5), maxGapAge: .seconds(2), warmupPageSize: 7,
            changeBatchSize: 50, listen: listen
        )
    }
}

struct ReplicaTimedOut: Error, CustomStringConvertible {
    var description: String
}

/// One "server": a cache and the follower that keeps it, running in a task of its own.
struct Replica {
    let cache: LookupCache
    let follower: LookupCacheFollower
    let task: Task<Void, Never>

    static func start(url: String, configuration: LookupCache.Configuration = .forTests()) -> Replica {
        let cache = LookupCache(configuration: configuration)
        var logger = Logger(label: "test.lookup-cache")
        logger.logLevel = .error
        return start(cache: cache, follower: LookupCacheFollower(cache: cache, conninfo: url, logger: logger))
    }

    /// Runs an existing follower again (it resumes from its saved cursor when it can).
    static func start(cache: LookupCache, follower: LookupCacheFollower) -> Replica {
        Replica(cache: cache, follower: follower, task: Task { await follower.run() })
    }

    func stop() async {
        task.cancel()
        await task.value
    }

    /// Waits until a poll that began after this call read everything there was, so every write
    /// that finished before the call is applied.
    func caughtUp(timeout: Duration = .seconds(20)) async throws {
        let mark = ContinuousClock.now
        while ContinuousClock.now - mark < timeout {
            let progress = cache.progress
            if progress.state == .live, let at = progress.caughtUpAt, at > mark { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw ReplicaTimedOut(description: "the cache did not catch up within \(timeout): \(cache.progress)")
    }
}
