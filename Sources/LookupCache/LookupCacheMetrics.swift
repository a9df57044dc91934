import Metrics

/// The read model's metrics, named like the rest of the service's (`stableid_…`, one label set
/// fixed at creation, so cardinality stays constant):
/// - `stableid_lookup_cache_lookups_total{result="hit|miss|off"}`: hit ratio = hit / all; `off`
///   counts lookups that went to PostgreSQL because the cache was not live;
/// - `stableid_lookup_cache_entries`: identities held;
/// - `stableid_lookup_cache_state{state="off|warming|live"}`: 1 for the current state;
/// - `stableid_lookup_cache_feed_lag_seconds`: for the last poll that brought changes, how long
///   the oldest of them had been committed when it was applied — the propagation delay to this
///   server; 0 when a poll brings nothing;
/// - `stableid_lookup_cache_change_visibility_seconds` (histogram): for every change applied
///   while live, from its commit (the database's clock) to its answer being served from memory
///   here — the propagation bound an operator alerts on;
/// - `stableid_lookup_cache_changes_applied_total`: identities re-read from the feed;
/// - `stableid_lookup_cache_warmup_seconds`: how long the last warm-up took;
/// - `stableid_lookup_cache_interruptions_total`: feed failures that switched the cache off.
struct LookupCacheMetrics: Sendable {
    let hits: Counter
    let misses: Counter
    let bypassed: Counter
    let entries: Gauge
    let lagSeconds: Gauge
    let visibility: Metrics.Timer
    let changesApplied: Counter
    /// Changes a warm-up's snapshot already reflected, so following never re-read them.
    let warmupSkippedChanges: Counter
    let warmupSeconds: Gauge
    let interruptions: Counter
    private let states: [(LookupCache.State, Gauge)]

    init(factory: any MetricsFactory) {
        let lookups = "stableid_lookup_cache_lookups_total"
        hits = Counter(label: lookups, dimensions: [("result", "hit")], factory: factory)
        misses = Counter(label: lookups, dimensions: [("result", "miss")], factory: factory)
        bypassed = Counter(label: lookups, dimensions: [("result", "off")], factory: factory)
        entries = Gauge(label: "stableid_lookup_cache_entries", factory: factory)
        lagSeconds = Gauge(label: "stableid_lookup_cache_feed_lag_seconds", factory: factory)
        visibility = Metrics.Timer(label: "stableid_lookup_cache_change_visibility_seconds", factory: factory)
        changesApplied = Counter(label: "stableid_lookup_cache_changes_applied_total", factory: factory)
        warmupSkippedChanges = Counter(label: "stableid_lookup_cache_warmup_skipped_changes_total", factory: factory)
        warmupSeconds = Gauge(label: "stableid_lookup_cache_warmup_seconds", factory: factory)
        interruptions = Counter(label: "stableid_lookup_cache_interruptions_total", factory: factory)
        states = LookupCache.State.allCases.map { state in
            (state, Gauge(label: "stableid_lookup_cache_state", dimensions: [("state", state.rawValue)], factory: factory))
        }
    }

    func record(state current: LookupCache.State) {
        for (state, gauge) in states {
            gauge.record(state == current ? 1 : 0)
        }
    }
}
