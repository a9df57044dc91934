public import IdentityMap
public import Metrics
import Support
import Synchronization

/// The in-process read model of the identity map (DESIGN §8): `(pool, sub)` → the ``Resolution``
/// the resolve route answers, and issuer → pool, held in memory so a lookup costs no database
/// round trip.
///
/// Correctness rules, and where each is kept:
/// - **An answer from memory is one PostgreSQL gave.** Entries are only ever written by the
///   ``LookupCacheFollower``, from rows it read: the warm-up pages, and re-reads through
///   ``ResolveQueries`` of every identity the change feed names. Nothing is written from a
///   request's miss: the map is complete by construction (warm-up, then every change), so a miss
///   is an unknown identity or a change younger than one poll, and caching what a request read
///   could put an older answer over a newer one when lookups and the follower read different
///   replicas.
/// - **A miss always goes to PostgreSQL**, and so does every lookup while the cache is not live.
/// - **Bounded staleness.** The cache answers only until ``Configuration/maxStaleness`` after the
///   start of the follower's last poll that read everything there was: a lookup answered from
///   memory at time t reflects every change the reader database had committed before t − 1 s
///   (default). A follower that stops, errs, falls behind or loses its connection stops
///   extending that deadline, so the cache switches itself off even if nothing notices.
/// - **Off until caught up.** An interrupted feed, changes pruned before they were read, a
///   TRUNCATE, or too many gaps switch the cache off; it comes back once the follower has caught
///   up again (or warmed up again when it cannot know what it missed).
/// - `consistency=strong` lookups do not call this at all.
///
/// Concurrency: 64 shards, each a ``IdentityShard`` behind its own `Mutex`, chosen by the sub's
/// bits; a single lookup holds one shard lock for a probe and the writing of its answer, a batch
/// each shard's lock once, to copy out all of that shard's answers. Lookups never take the
/// control lock; the writer takes it, then shard locks.
public final class LookupCache: Sendable {
    public struct Configuration: Sendable {
        /// Rounded up to a power of two.
        public var shardCount: Int
        /// How often the follower polls when no NOTIFY wakes it (a hot standby cannot LISTEN).
        public var pollInterval: Duration
        /// The least time between two polls while the follower listens (woken by a NOTIFY or by
        /// ``pollInterval``); the follower uses at most half of ``maxStaleness``. Every publishing commit sends one,
        /// and a poll is two statements and a pass over the cache: at hundreds of links a second,
        /// a poll per commit cost about as much as the links' own statements. Polls at most this
        /// often carry every commit of the interval; an answer is that much staler at most, far
        /// inside ``maxStaleness``.
        public var pollSpacing: Duration
        /// How long after its last complete poll the cache may still answer (see the type's notes).
        public var maxStaleness: Duration
        /// How long an id missing from the feed is waited for (see ``ChangeCursor``).
        public var maxGapAge: Duration
        /// Identities per warm-up page (keyset-paginated, one short statement each).
        public var warmupPageSize: Int
        /// Change-log rows per poll; a poll that returns this many is followed by another at once.
        public var changeBatchSize: Int
        /// More open gaps than this means something is badly wrong: warm up again.
        public var maxGapRanges: Int
        /// LISTEN for wake-ups when the server allows it (it falls back to polling when not).
        public var listen: Bool

        public init(
            shardCount: Int = 64,
            pollInterval: Duration = .milliseconds(50),
            pollSpacing: Duration = .milliseconds(10),
            maxStaleness: Duration = .seconds(1),
            maxGapAge: Duration = .seconds(10),
            warmupPageSize: Int = 10_000,
            changeBatchSize: Int = 5_000,
            maxGapRanges: Int = 10_000,
            listen: Bool = true
        ) {
            self.shardCount = max(1, shardCount)
            self.pollInterval = pollInterval
            self.pollSpacing = pollSpacing
            self.maxStaleness = maxStaleness
            self.maxGapAge = maxGapAge
            self.warmupPageSize = max(1, warmupPageSize)
            self.changeBatchSize = max(1, changeBatchSize)
            self.maxGapRanges = max(1, maxGapRanges)
            self.listen = listen
        }
    }

    public enum State: String, Sendable, CaseIterable {
        /// Every lookup goes to PostgreSQL (feed down, behind, or never started).
        case off
        /// Loading every identity; lookups go to PostgreSQL meanwhile.
        case warming
        /// Lookups are answered from memory.
        case live
    }

    final class Shard: Sendable {
        let storage: Mutex<IdentityShard>

        init(interns: InternSnapshot) {
            storage = Mutex(IdentityShard(interns: interns))
        }
    }

    struct Control {
        var state: State = .off
        var interns = InternTable()
        var position: Int64 = 0
        var missingIDs: Int64 = 0
        /// Start of the last poll that read everything there was.
        var caughtUpAt: ContinuousClock.Instant?
        var warmups = 0
        /// Identities the current warm-up expects (the table's row estimate), for progress.
        var expectedEntries = 0
        /// Live at least once since the process started: what `/readyz` waits for.
        var everLive = false
    }

    public let configuration: Configuration
    let metrics: LookupCacheMetrics
    let shards: [Shard]
    private let shardShift: UInt64
    private let epoch = ContinuousClock.now
    /// Nanoseconds after `epoch` until which lookups may be answered from memory (`Int64.min`
    /// when not live). An atomic, so the hot path takes no lock to learn whether it may.
    private let servingDeadline = Atomic<Int64>(Int64.min)
    /// When the follower's last complete poll started, and the newest write this process made
    /// (ticks since `epoch`): see ``noteLocalWrite(at:)``.
    private let caughtUpPollStart = Atomic<Int64>(Int64.min)
    private let localWriteAt = Atomic<Int64>(Int64.min)
    private let entryCount = Atomic<Int>(0)
    /// Identities re-read from the change feed since start (the metric's count, for tests).
    let changesApplied = Atomic<Int>(0)
    let control = Mutex(Control())

    public init(configuration: Configuration = Configuration(), metricsFactory: any MetricsFactory = MetricsSystem.factory) {
        var shardCount = 1
        while shardCount < configuration.shardCount { shardCount <<= 1 }
        var configuration = configuration
        configuration.shardCount = shardCount
        self.configuration = configuration
        self.metrics = LookupCacheMetrics(factory: metricsFactory)
        let empty = InternSnapshot(InternTable())
        self.shards = (0..<shardCount).map { _ in Shard(interns: empty) }
        self.shardShift = UInt64(64 - shardCount.trailingZeroBitCount)
        metrics.record(state: .off)
    }

    /// `.live` only while lookups are really answered from memory (a live cache whose follower
    /// stopped polling reads as `.off` once its deadline passed).
    public var state: State {
        let state = control.withLock { $0.state }
        if state == .live, !isServing() { return .off }
        return state
    }

    /// Identities held.
    public var count: Int { entryCount.load(ordering: .relaxed) }

    /// Whether the cache has been live at least once since the process started. A freshly started
    /// server is not ready until it has (`/readyz`): before then every lookup would go to
    /// PostgreSQL. Later interruptions do not clear it — lookups then fall through to PostgreSQL,
    /// which is what the database-backed path is for.
    public var hasBeenLive: Bool { control.withLock { $0.everLive } }

    /// How far the current warm-up is: identities loaded and the number it expects (an estimate,
    /// which the loaded count may pass).
    public var warmupProgress: (loaded: Int, expected: Int) {
        (count, control.withLock { $0.expectedEntries })
    }

    /// The answer from memory, or nil when the caller must ask PostgreSQL: the cache is not live,
    /// the identity is unknown here, or the reference is not in canonical form. Counted like a
    /// lookup; the routes use ``withStoredAnswer(for:_:)``, which builds no `Resolution` (tests).
    func cachedResolution(for reference: IdentityReference) -> Resolution? {
        guard isServing() else {
            metrics.bypassed.increment()
            return nil
        }
        let found = storedResolution(for: reference)
        if found == nil {
            metrics.misses.increment()
        } else {
            metrics.hits.increment()
        }
        return found
    }

    /// What the map holds for `reference`, whatever the state (tests and diagnostics).
    func storedResolution(for reference: IdentityReference) -> Resolution? {
        withEntry(for: reference) { shard, key, sub in shard.resolution(for: key, sub: sub) }
    }

    /// Calls `body` with the shard that holds `reference` (locked), its key there and the sub's
    /// text; nil without calling it when the sub is not canonical or the pool or issuer unknown.
    func withEntry<T>(for reference: IdentityReference, _ body: (IdentityShard, ShardKey, String) -> T?) -> T? {
        let sub: String
        var poolName: String?
        var issuer: String?
        switch reference {
        case .pool(let pool, let text):
            sub = text
            poolName = pool.rawValue
        case .issuer(let iss, let text):
            sub = text
            // As ResolveQueries compares it: trailing slashes do not name another pool.
            issuer = Pool.normalizeIssuer(iss)
        }
        guard let bits = UUIDBits(canonicalText: sub) else { return nil }
        return shards[shardIndex(bits)].storage.withLock { shard -> T? in
            let pool: UInt32?
            if let poolName {
                pool = shard.interns.table.pool(named: poolName)
            } else if let issuer {
                pool = shard.interns.table.pool(issuer: issuer)
            } else {
                pool = nil
            }
            guard let pool else { return nil }
            return body(shard, ShardKey(sub: bits, pool: pool), sub)
        }
    }

    func shardIndex(_ sub: UUIDBits) -> Int {
        // Fibonacci hashing of both words: uniform even for subs whose low bits are not random.
        Int(truncatingIfNeeded: ((sub.high ^ sub.low) &* 0x9E37_79B9_7F4A_7C15) >> shardShift)
    }

    // MARK: Serving deadline

    func isServing(at now: ContinuousClock.Instant = .now) -> Bool {
        servingDeadline.load(ordering: .acquiring) > ticks(now)
            && caughtUpPollStart.load(ordering: .acquiring) >= localWriteAt.load(ordering: .acquiring)
    }

    func setServingDeadline(_ deadline: ContinuousClock.Instant?) {
        servingDeadline.store(deadline.map { ticks($0) } ?? Int64.min, ordering: .releasing)
    }

    /// Read-your-writes on this server: a write this process just committed (an unlink, a merge)
    /// is answered by PostgreSQL until the follower has finished a poll that started after it —
    /// tens of milliseconds — so a client never reads its own change undone from memory. Writes
    /// made elsewhere (another replica, the CLI) reach the cache through the feed within the
    /// staleness bound.
    public func noteLocalWrite(at instant: ContinuousClock.Instant = .now) {
        let value = ticks(instant)
        var current = localWriteAt.load(ordering: .relaxed)
        while current < value {
            let (exchanged, original) = localWriteAt.compareExchange(
                expected: current, desired: value, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = original
        }
    }

    func recordCaughtUpPoll(started: ContinuousClock.Instant) {
        caughtUpPollStart.store(ticks(started), ordering: .releasing)
    }

    private func ticks(_ instant: ContinuousClock.Instant) -> Int64 {
        (instant - epoch).nanoseconds
    }

    func resetEntryCount() {
        entryCount.store(0, ordering: .relaxed)
        metrics.entries.record(0)
    }

    func addEntries(_ delta: Int) {
        guard delta != 0 else { return }
        let total = entryCount.add(delta, ordering: .relaxed).newValue
        metrics.entries.record(total)
    }
}
