public import Logging
import Postgres
import Synchronization

/// Tells waiting readers of the change feed that a commit published changes: one LISTEN
/// connection per server (``PostgresListener``), fanned out in-process to every long poll and
/// stream, so a thousand waiting consumers cost one connection, not a thousand.
///
/// A reader takes ``generation`` *before* it reads a page, and when the page is empty waits with
/// ``wait(since:until:)``: a commit between its read and its wait has already moved the
/// generation, so the wait returns at once and no wake-up is lost. A NOTIFY only says "read
/// again": what changed is read from the feed.
///
/// While the connection is down (or cannot LISTEN: a hot standby) waits last at most
/// ``pollInterval``, so readers poll instead; each reconnect wakes everyone, since commits may
/// have gone unheard meanwhile.
public final class ChangeNotifier: Sendable {
    let conninfo: String
    let logger: Logger
    let metrics: ChangeFeedMetrics?
    /// How often a waiter re-reads while nothing is listening.
    public let pollInterval: Duration

    private struct State {
        var generation: UInt64 = 0
        var listening = false
        var nextWaiter: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    /// `conninfo`: the primary, where commits NOTIFY.
    public init(conninfo: String, logger: Logger, metrics: ChangeFeedMetrics? = nil, pollInterval: Duration = .milliseconds(100)) {
        self.conninfo = conninfo
        self.logger = logger
        self.metrics = metrics
        self.pollInterval = pollInterval
    }

    /// Moves on every heard commit (and every reconnect).
    public var generation: UInt64 {
        self.state.withLock { $0.generation }
    }

    /// Whether a LISTEN connection is up: NOTIFYs are being heard.
    public var isListening: Bool {
        self.state.withLock { $0.listening }
    }

    /// Returns once a commit has been heard after `generation` was read, or at `deadline`,
    /// whichever comes first — or after ``pollInterval`` while nothing listens. Returns at once
    /// when the calling task is cancelled.
    public func wait(since generation: UInt64, until deadline: ContinuousClock.Instant) async {
        // A commit already heard needs no task group: the common case under load, where the
        // page read took long enough for the next commit to land.
        guard self.generation == generation, !Task.isCancelled else { return }
        let until = isListening ? deadline : min(deadline, .now + pollInterval)
        guard until > .now else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.commit(after: generation) }
            group.addTask { try? await Task.sleep(until: until, clock: .continuous) }
            _ = await group.next()
            group.cancelAll()
        }
    }

    /// Waits for what makes a reader read the feed again — a commit since `generation`, its hole
    /// due (`retryAt`), the polling while nothing listens — or `deadline`, whichever is first;
    /// true when the reader must read. False: only time passed (a drain check, a keep-alive, a
    /// lease renewal is the caller's reason to wake), and reading would find what it found.
    public func waitForRead(
        since generation: UInt64, retryAt: ContinuousClock.Instant?, until deadline: ContinuousClock.Instant
    ) async -> Bool {
        await wait(since: generation, until: min(deadline, retryAt ?? deadline))
        return mustReadAgain(since: generation, retryAt: retryAt)
    }

    /// Whether a reader whose wait just ended must read the feed again: a commit was heard
    /// since `generation`, the hole that stopped its page is due to be given up (`retryAt`), or
    /// nothing listens (so waits are the polling). A wait that ended only so the reader could
    /// look at its own state (a drain, a keep-alive) reads nothing: idle consumers cost the
    /// database nothing while the LISTEN connection is up.
    func mustReadAgain(since generation: UInt64, retryAt: ContinuousClock.Instant?) -> Bool {
        let (current, listening) = self.state.withLock { ($0.generation, $0.listening) }
        guard listening, current == generation else { return true }
        if let retryAt { return ContinuousClock.now >= retryAt }
        return false
    }

    /// Suspends until the generation differs from `generation`, or the task is cancelled.
    private func commit(after generation: UInt64) async {
        let id = self.state.withLock { state -> UInt64 in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                // Cancellation is flagged before its handler runs: either this sees it, or the
                // handler finds the continuation stored here.
                let resumeNow = self.state.withLock { state -> Bool in
                    if state.generation != generation || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            self.state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// A commit was heard (or may have been missed): wakes every waiter.
    func wakeAll(listening: Bool? = nil) {
        let woken = self.state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.generation &+= 1
            if let listening { state.listening = listening }
            let waiting = Array(state.waiters.values)
            state.waiters.removeAll()
            return waiting
        }
        if let listening { metrics?.listening(listening) }
        for continuation in woken { continuation.resume() }
    }

    /// Listens until the calling task is cancelled. Never throws: a lost connection is
    /// reconnected with backoff, waiters polling meanwhile.
    public func run() async {
        var failures = 0
        while !Task.isCancelled {
            let listener = PostgresListener(
                conninfo: conninfo, applicationName: "stableid-changes",
                session: SessionSettings(statementTimeoutMilliseconds: 1_000, keepaliveIdleSeconds: 1, tcpUserTimeoutMilliseconds: 1_000),
                label: "stableid.change-notifier"
            )
            do {
                try await listener.connect(channels: [ChangeFeedLog.channel])
                failures = 0
                wakeAll(listening: true)
                logger.debug("change feed notifier listening")
                try await listen(listener)
            } catch {
                wakeAll(listening: false)
                if !Task.isCancelled {
                    failures += 1
                    // A hot standby refuses LISTEN every time: say so once, then poll quietly.
                    if failures == 1 {
                        logger.warning(
                            "change feed notifier is not listening; waiting readers poll", metadata: ["error": "\(type(of: error))"])
                    }
                    try? await Task.sleep(for: .milliseconds(min(5_000, 100 << min(failures, 6))))
                }
            }
            listener.close()
        }
        wakeAll(listening: false)
    }

    /// Hears NOTIFYs until the connection fails or the task is cancelled; pings the connection
    /// every 500 ms, so a connection that died silently is noticed within a second.
    private func listen(_ listener: PostgresListener) async throws {
        var lastPing = ContinuousClock.now
        while !Task.isCancelled {
            let heard = try await listener.next(timeout: .milliseconds(250))
            if !heard.isEmpty { wakeAll() }
            if ContinuousClock.now - lastPing >= .milliseconds(500) {
                try await listener.ping(timeout: .milliseconds(500))
                lastPing = ContinuousClock.now
            }
        }
    }
}
