import Foundation
import IdentityMap
public import Logging
import Metrics
import Postgres
import Support
import Synchronization

/// Keeps a ``LookupCache`` in step with PostgreSQL: warms it up, then follows `identity_changes`.
///
/// One loop, on one connection of its own to the reader database:
/// 1. **Warm-up**: take the start position (``IdentityChangeFeed/start(maxGapAge:)``) *before*
///    the first page, then read every resolvable identity in keyset pages of 10,000; the next
///    page is fetched on the feed's thread while the previous one is decoded on the loader's,
///    so neither waits and neither runs on the cooperative pool.
/// 2. **Follow**: poll the log from the cursor (after a NOTIFY, at once or `pollSpacing` after the last poll, else every 50 ms;
///    back to back while polls come back full), re-read the identities the rows name through
///    `ResolveQueries` and store or remove them, then move the cursor. A poll that read
///    everything there was makes the cache live until 1 s after that poll began.
/// 3. **Interruptions**: a failed or hung call switches the cache off and reconnects with
///    backoff, then resumes from the saved cursor — unless the log was pruned past it, a
///    TRUNCATE reset it, or the server's log ends before it (another server after a failover):
///    then it warms up again. A poll cannot say what it missed in those cases; rebuilding can.
public final class LookupCacheFollower: Sendable {
    let cache: LookupCache
    let conninfo: String
    let logger: Logger
    /// Decodes warm-up pages on a thread of its own while the feed fetches the next one.
    private let loader = BlockingExecutor(label: "stableid.lookup-cache.loader")
    /// Survives reconnects (and a restarted `run()`): where to resume without warming up.
    private let saved = Mutex<ChangeCursor?>(nil)
    /// Which server instance the saved cursor belongs to (its postmaster's start time): after a
    /// failover or a restart the log's ids may have been reissued, or commits this cache applied
    /// may never have reached the new server, so only the same instance is resumed.
    private let savedServer = Mutex<String?>(nil)
    /// Polls of the change log made while following (for tests).
    private let followPolls = Atomic<Int>(0)
    var pollsMade: Int { followPolls.load(ordering: .relaxed) }

    /// `conninfo`: the reader database (`DATABASE_READ_URL` when set), the one that lookups the
    /// cache cannot answer go to: both then see the same replica's state, the cache at most one
    /// poll behind it.
    public init(cache: LookupCache, conninfo: String, logger: Logger) {
        self.cache = cache
        self.conninfo = conninfo
        self.logger = logger
    }

    enum Interruption: Error, CustomStringConvertible {
        case pruned
        case reset
        case tooManyGaps

        var description: String {
            switch self {
            case .pruned: return "changes were pruned before this server read them"
            case .reset: return "the identity tables were truncated"
            case .tooManyGaps: return "too many missing ids in the change log"
            }
        }
    }

    /// Runs until the calling task is cancelled. Never throws: every failure switches the cache
    /// off (lookups go to PostgreSQL) and is retried.
    public func run() async {
        var failures = 0
        var snapshotWarmupFailed = false
        while !Task.isCancelled {
            let feed = IdentityChangeFeed(conninfo: conninfo)
            defer { feed.close() }
            do {
                let listening = try await feed.connect(listen: cache.configuration.listen)
                let server = try await feed.serverInstance()
                if savedServer.withLock({ $0 }) != server {
                    if saved.withLock({ $0 }) != nil {
                        logger.warning("lookup cache reconnected to another server instance (failover or restart); warming up again")
                    }
                    saved.withLock { $0 = nil }
                    savedServer.withLock { $0 = server }
                }
                var cursor: ChangeCursor
                var reflectedResets: Set<Int64> = []
                if let resumed = try await resumableCursor(feed) {
                    cursor = resumed
                } else {
                    // One snapshot bounds the replay after a bulk load, but it is one long
                    // transaction: if it failed (a hot standby cancelling it for a replay conflict,
                    // a statement timeout), the next warm-up reads page by page, as before.
                    let snapshot = !snapshotWarmupFailed
                    do {
                        let warmed = try await warmUp(feed, inOneSnapshot: snapshot)
                        cursor = warmed.cursor
                        reflectedResets = warmed.reflectedResets
                        snapshotWarmupFailed = false
                    } catch {
                        if snapshot { snapshotWarmupFailed = true }
                        throw error
                    }
                }
                failures = 0
                try await follow(feed, cursor: &cursor, reflectedResets: reflectedResets, listening: listening)
            } catch let interruption as Interruption {
                saved.withLock { $0 = nil }
                cache.switchOff()
                cache.metrics.interruptions.increment()
                logger.warning("lookup cache must warm up again; lookups go to PostgreSQL", metadata: ["reason": "\(interruption)"])
            } catch {
                cache.switchOff()
                if Task.isCancelled { break }
                failures += 1
                cache.metrics.interruptions.increment()
                logger.warning("lookup cache feed interrupted; lookups go to PostgreSQL", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
            }
        }
        cache.switchOff()
    }

    // MARK: Warm-up

    /// Returns the cursor to follow from and the reset rows the warm-up already reflects.
    /// `inOneSnapshot`: the start, every page and the changes they reflect are read in one
    /// REPEATABLE READ snapshot, so following skips what the pages show; otherwise each page is
    /// its own snapshot and following re-reads every change since the start position.
    private func warmUp(
        _ feed: IdentityChangeFeed, inOneSnapshot: Bool
    ) async throws -> (cursor: ChangeCursor, reflectedResets: Set<Int64>) {
        let configuration = cache.configuration
        let began = ContinuousClock.now
        // From here the map is being rebuilt: an old cursor no longer describes it.
        saved.withLock { $0 = nil }
        if inOneSnapshot { try await feed.beginSnapshot() }
        let start = try await feed.start(maxGapAge: configuration.maxGapAge)
        cache.beginWarming(expectedEntries: start.estimatedIdentities)
        logger.info("lookup cache warming up", metadata: ["estimated_identities": "\(start.estimatedIdentities)"])
        cache.replacePools(try await feed.pools())
        var skipped = 0
        var page: IdentityChangeFeed.Page? = try await feed.identityPage(after: 0, limit: configuration.warmupPageSize)
        while let current = page {
            let full = current.rows.count == configuration.warmupPageSize
            async let next = nextPage(feed, after: full ? current.lastID : nil, limit: configuration.warmupPageSize)
            skipped += try await loader.run { [cache] in
                let decoded = WarmupRows.decode(current.rows)
                cache.apply(decoded.updates)
                return decoded.skipped
            }
            page = try await next
        }
        var visible: (high: Int64, missing: [ClosedRange<Int64>]) = (start.position, [])
        if inOneSnapshot {
            visible = try await feed.visibleChanges(after: start.position)
            try await feed.endSnapshot()
        }
        let duration = ContinuousClock.now - began
        cache.metrics.warmupSeconds.record(duration.seconds)
        logger.info(
            "lookup cache warmed up",
            metadata: ["identities": "\(cache.count)", "skipped": "\(skipped)", "seconds": "\(duration.seconds)"]
        )
        // The pages reflect every change the snapshot saw: following reads only the rest.
        let cursor = ChangeCursor(after: start.position, visibleThrough: visible.high, missing: visible.missing, at: .now)
        cache.metrics.warmupSkippedChanges.increment(by: Int(visible.high - start.position) - visible.missing.reduce(0) { $0 + $1.count })
        saved.withLock { $0 = cursor }
        return (cursor: cursor, reflectedResets: start.visibleResets)
    }

    private func nextPage(_ feed: IdentityChangeFeed, after: Int64?, limit: Int) async throws -> IdentityChangeFeed.Page? {
        guard let after else { return nil }
        return try await feed.identityPage(after: after, limit: limit)
    }

    /// The saved cursor, if the log still holds everything after it on this server.
    private func resumableCursor(_ feed: IdentityChangeFeed) async throws -> ChangeCursor? {
        guard let cursor = saved.withLock({ $0 }) else { return nil }
        let log = try await feed.logEnd()
        if cursor.missedPrunedChanges(prunedThrough: log.prunedThrough) {
            logger.warning("lookup cache cannot resume: changes it had not read were pruned; warming up again")
            return nil
        }
        if cursor.isAhead(ofLogEnd: log.end) {
            logger.warning("lookup cache cannot resume: this server's change log ends before the cursor; warming up again")
            return nil
        }
        return cursor
    }

    // MARK: Following

    private func follow(
        _ feed: IdentityChangeFeed, cursor: inout ChangeCursor, reflectedResets: Set<Int64>, listening: Bool
    ) async throws {
        let configuration = cache.configuration
        var caughtUp = false
        var live = false
        // Gap ages run on the feed's own clock — the commit times of the changes this server has
        // seen — so a standby whose replay pauses (a conflict, a delayed standby) does not give up
        // on a late id while the change is still on its way.
        let reference = (instant: ContinuousClock.now, date: Date())
        var newestSeen = Date.distantPast
        func feedInstant() -> ContinuousClock.Instant {
            newestSeen == .distantPast ? reference.instant : reference.instant + .seconds(newestSeen.timeIntervalSince(reference.date))
        }
        var lastPoll: ContinuousClock.Instant?
        while true {
            try Task.checkCancellation()
            if caughtUp {
                if listening {
                    try await feed.waitForWakeUp(timeout: configuration.pollInterval)
                    let spacing = min(configuration.pollSpacing, configuration.maxStaleness / 2)
                    if let lastPoll, case let early = lastPoll + spacing - .now, early > .zero {
                        try await Task.sleep(for: early)
                    }
                } else {
                    try await Task.sleep(for: configuration.pollInterval)
                }
            }
            let started = ContinuousClock.now
            lastPoll = started
            followPolls.add(1, ordering: .relaxed)
            let poll = try await feed.poll(cursor, limit: configuration.changeBatchSize)
            if cursor.missedPrunedChanges(prunedThrough: poll.prunedThrough) { throw Interruption.pruned }
            // Apply before moving the cursor: if applying fails, the next poll reads the rows again.
            try await apply(poll.changes, from: feed, reflectedResets: reflectedResets)
            if let newest = poll.changes.map(\.changedAt).max(), newest > newestSeen { newestSeen = newest }
            cursor.observe(poll.changes.map(\.id), at: feedInstant())
            caughtUp = poll.changes.count < configuration.changeBatchSize
            if caughtUp {
                let abandoned = cursor.abandonGaps(olderThan: configuration.maxGapAge, now: feedInstant())
                if abandoned > 0 {
                    logger.debug("lookup cache gave up waiting for change ids", metadata: ["ids": "\(abandoned)"])
                }
            }
            guard cursor.gaps.count <= configuration.maxGapRanges else { throw Interruption.tooManyGaps }
            saved.withLock { $0 = cursor }
            if live { recordLag(poll, started: started) }
            if caughtUp {
                if !live { logger.info("lookup cache live", metadata: ["identities": "\(cache.count)"]) }
                cache.markCaughtUp(pollStarted: started, cursor: cursor)
                live = true
            } else {
                cache.recordProgress(cursor)
                if live, !cache.isServing() {
                    // Polls keep coming back full and the last complete one is too old to answer from.
                    cache.switchOff()
                    live = false
                    logger.warning("lookup cache is behind the change feed; lookups go to PostgreSQL until it catches up")
                }
            }
        }
    }

    private struct ChangedKey: Hashable {
        var pool: PoolID
        var sub: UUIDBits
        var text: String
    }

    /// Re-reads every identity the rows name (each once) and stores or removes it; reloads the
    /// pools when a pool row changed.
    private func apply(
        _ changes: [IdentityChangeFeed.Change], from feed: IdentityChangeFeed, reflectedResets: Set<Int64>
    ) async throws {
        guard !changes.isEmpty else { return }
        var poolsChanged = false
        var keys: [ChangedKey] = []
        var seen = Set<ChangedKey>()
        for change in changes {
            guard let poolText = change.pool else {
                if reflectedResets.contains(change.id) { continue }
                throw Interruption.reset
            }
            guard let subText = change.sub else {
                poolsChanged = true
                continue
            }
            // A pool id or sub not in canonical form is never held, so there is nothing to update.
            guard let pool = PoolID(poolText), let sub = UUIDBits(canonicalText: subText) else { continue }
            let key = ChangedKey(pool: pool, sub: sub, text: subText)
            if seen.insert(key).inserted { keys.append(key) }
        }
        if poolsChanged { cache.replacePools(try await feed.pools()) }
        let answers = try await feed.currentAnswers(for: keys.map { IdentityReference.pool($0.pool, sub: $0.text) })
        cache.apply(zip(keys, answers).map { key, answer in CacheUpdate(pool: key.pool, sub: key.sub, resolution: answer) })
        cache.metrics.changesApplied.increment(by: keys.count)
        cache.changesApplied.wrappingAdd(keys.count, ordering: .relaxed)
    }

    /// How long the oldest change of this poll had been committed when it was applied.
    private func recordLag(_ poll: IdentityChangeFeed.Poll, started: ContinuousClock.Instant) {
        guard let oldest = poll.changes.map(\.changedAt).min() else {
            cache.metrics.lagSeconds.record(0)
            return
        }
        // Both ends on the database's clock (its `now()` at the poll, plus the time the poll and
        // the apply took here): no skew between this host and the database's.
        let sincePoll = (ContinuousClock.now - started).seconds
        let lag = poll.databaseNow.timeIntervalSince(oldest) + sincePoll
        cache.metrics.lagSeconds.record(max(0, lag))
        for change in poll.changes {
            let visible = poll.databaseNow.timeIntervalSince(change.changedAt) + sincePoll
            cache.metrics.visibility.recordNanoseconds(Int64(max(0, visible) * 1e9))
        }
    }
}
