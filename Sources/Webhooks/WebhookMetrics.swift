import Foundation
public import Metrics
import Support
import Synchronization

/// Webhook delivery metrics, named like the rest (`stableid_…`), the same label names always:
/// - `stableid_webhook_deliveries_total{endpoint, outcome}`: requests by endpoint (its id) and
///   outcome — `delivered`, `http_error` (a non-2xx answer), `timeout`, `connect_error`,
///   `tls_error`, `address_not_allowed`, `transport_error`;
/// - `stableid_webhook_changes_delivered_total{endpoint}`: changes in the delivered requests (a
///   request carries up to `STABLEID_WEBHOOK_BATCH` of them);
/// - `stableid_webhook_delivery_seconds{endpoint}` (histogram): one attempt, from sending to the answer;
/// - `stableid_webhook_lag_changes{endpoint}`: feed positions between the endpoint's cursor and
///   the end of the feed, on the server delivering it;
/// - `stableid_webhook_lag_seconds{endpoint}`: age of the oldest change not yet delivered (0 when
///   caught up);
/// - `stableid_webhook_endpoints{state}`: endpoints by state (`enabled`, `disabled`), all servers'
///   alike;
/// - `stableid_webhook_workers`: endpoints this server delivers now.
public final class WebhookMetrics: Sendable {
    let factory: any MetricsFactory
    private let endpointsByState: [Webhook.State: Gauge]
    private let workersGauge: Gauge
    private let workers = Atomic<Int>(0)

    /// `factory`: the application's (its Prometheus registry). Give `stableid_webhook_delivery_seconds`
    /// buckets up to the timeout there.
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        var gauges: [Webhook.State: Gauge] = [:]
        for state in Webhook.State.allCases {
            gauges[state] = Gauge(label: "stableid_webhook_endpoints", dimensions: [("state", state.rawValue)], factory: factory)
        }
        endpointsByState = gauges
        workersGauge = Gauge(label: "stableid_webhook_workers", factory: factory)
        workersGauge.record(0)
    }

    /// The metrics of one endpoint, made when a worker starts delivering it.
    func endpoint(_ id: UUID) -> EndpointMetrics {
        EndpointMetrics(id: id.uuidString.lowercased(), factory: factory)
    }

    func endpoints(_ counts: [Webhook.State: Int]) {
        for (state, gauge) in endpointsByState { gauge.record(counts[state] ?? 0) }
    }

    func workerStarted() {
        workersGauge.record(workers.add(1, ordering: .relaxed).newValue)
    }

    func workerStopped() {
        workersGauge.record(workers.subtract(1, ordering: .relaxed).newValue)
    }
}

/// One endpoint's series (labels fixed when made).
struct EndpointMetrics: Sendable {
    private let deliveries: [String: Counter]
    private let changes: Counter
    private let latency: Metrics.Timer
    private let lagChanges: Gauge
    private let lagSeconds: Gauge

    init(id: String, factory: any MetricsFactory) {
        var deliveries: [String: Counter] = [:]
        for outcome in DeliveryOutcome.metricLabels {
            deliveries[outcome] = Counter(
                label: "stableid_webhook_deliveries_total", dimensions: [("endpoint", id), ("outcome", outcome)], factory: factory)
        }
        self.deliveries = deliveries
        changes = Counter(label: "stableid_webhook_changes_delivered_total", dimensions: [("endpoint", id)], factory: factory)
        latency = Metrics.Timer(label: "stableid_webhook_delivery_seconds", dimensions: [("endpoint", id)], factory: factory)
        lagChanges = Gauge(label: "stableid_webhook_lag_changes", dimensions: [("endpoint", id)], factory: factory)
        lagSeconds = Gauge(label: "stableid_webhook_lag_seconds", dimensions: [("endpoint", id)], factory: factory)
    }

    func attempt(_ outcome: DeliveryOutcome, took duration: Duration, changes count: Int) {
        deliveries[outcome.metricLabel]?.increment()
        latency.recordNanoseconds(duration.nanoseconds)
        if outcome.isDelivered { changes.increment(by: count) }
    }

    /// `behind`: feed positions after the cursor; `oldest`: when the oldest change not delivered
    /// was published (nil when caught up).
    func lag(behind: Int64, oldest: Date?) {
        lagChanges.record(max(0, behind))
        lagSeconds.record(oldest.map { max(0, Date().timeIntervalSince($0)) } ?? 0)
    }
}
