public import Foundation
public import Metrics
import Synchronization

/// The change feed's metrics, named like the rest of the service's (`stableid_…`, labels fixed
/// at creation):
/// - `stableid_changes_requests_total{mode="page|wait|stream"}`: `GET /v1/changes` by how it was
///   answered — a page at once, a long poll (`wait`), a Server-Sent Events stream;
/// - `stableid_changes_page_reads_total`: pages read from the database for `GET /v1/changes`
///   — what consumers cost the database; held requests read only when a commit is heard (or a
///   hole in the feed is due to be given up), not while they sit idle;
/// - `stableid_changes_waiters`: requests held open right now (long polls waiting, streams open);
/// - `stableid_changes_notifier_listening`: 1 while this server's LISTEN connection is up (0:
///   waiting readers poll every 100 ms instead of being woken by each commit);
/// - `stableid_changes_publish_lag_seconds` (histogram): for every change handed out, from its
///   commit (its publication, the database's clock) to this server reading it — for a waiting
///   consumer, how soon a commit reaches it (the bound BENCHMARKS.md measures).
public final class ChangeFeedMetrics: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        case page, wait, stream
    }

    private let requests: [Mode: Counter]
    private let pageReads: Counter
    private let readAheadsUsed: Counter
    private let waitersGauge: Gauge
    private let listeningGauge: Gauge
    private let publishLag: Metrics.Timer
    private let waiting = Atomic<Int>(0)

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        var requests: [Mode: Counter] = [:]
        for mode in Mode.allCases {
            requests[mode] = Counter(label: "stableid_changes_requests_total", dimensions: [("mode", mode.rawValue)], factory: factory)
        }
        self.requests = requests
        pageReads = Counter(label: "stableid_changes_page_reads_total", factory: factory)
        readAheadsUsed = Counter(label: "stableid_changes_read_ahead_used_total", factory: factory)
        waitersGauge = Gauge(label: "stableid_changes_waiters", factory: factory)
        listeningGauge = Gauge(label: "stableid_changes_notifier_listening", factory: factory)
        listeningGauge.record(0)
        publishLag = Metrics.Timer(label: "stableid_changes_publish_lag_seconds", factory: factory)
        waitersGauge.record(0)
    }

    public func request(_ mode: Mode) {
        requests[mode]?.increment()
    }

    /// One page read from the database for a consumer.
    public func pageRead() {
        pageReads.increment()
    }

    /// A request answered by a page read ahead.
    public func readAheadUsed() {
        readAheadsUsed.increment()
    }

    func listening(_ on: Bool) {
        listeningGauge.record(on ? 1 : 0)
    }

    /// A request starts being held open (call ``released()`` when it ends, whatever happens).
    public func held() {
        waitersGauge.record(waiting.add(1, ordering: .relaxed).newValue)
    }

    public func released() {
        waitersGauge.record(waiting.subtract(1, ordering: .relaxed).newValue)
    }

    /// Requests held right now (for tests).
    public var waiters: Int { waiting.load(ordering: .relaxed) }

    /// Records each change's time from its publication to `databaseNow` (the read's clock, the
    /// same clock its publication was stamped with).
    public func delivered(_ changes: [FeedChange], databaseNow: Date?) {
        guard let databaseNow else { return }
        for change in changes {
            let lag = max(0, databaseNow.timeIntervalSince(change.publishedAt))
            publishLag.recordNanoseconds(Int64(lag * 1e9))
        }
    }
}
