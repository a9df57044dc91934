import Hummingbird
import IdentityMap
import NIOCore
import Prometheus
import Reconciliation

/// Liveness, readiness and Prometheus metrics; no token needed (expose them on an internal port or
/// behind the load balancer's health checks only).
struct HealthController {
    let readiness: ReadinessProbe
    /// Warming and draining: reasons not to be ready that the database check cannot see.
    let serving: ServingState
    let registry: PrometheusCollectorRegistry
    let poolGauges: PoolGauges
    /// The last reconciliation run's counts are appended to `/metrics` (cron writes a textfile
    /// too; a scrape of any replica shows the same numbers).
    let findings: FindingStore

    func register(on router: Router<AppRequestContext>) {
        router.get("healthz") { _, _ in
            try JSONResponse.make(.ok, ["status": "ok"])
        }
        router.get("readyz") { _, _ in
            switch serving.verdict {
            case .draining:
                return try JSONResponse.make(.serviceUnavailable, NotReady(status: "draining"))
            case .warming(let loaded, let expected):
                return try JSONResponse.make(
                    .serviceUnavailable, NotReady(status: "warming", identitiesLoaded: loaded, identitiesExpected: expected))
            case .serving:
                guard readiness.isReady else { return Problem.databaseUnavailable.response() }
                return try JSONResponse.make(.ok, ["status": "ready", "primary": readiness.isPrimaryReachable ? "up" : "down"])
            }
        }
        router.get("metrics") { _, _ in
            poolGauges.update()
            var buffer: [UInt8] = []
            registry.emit(into: &buffer)
            if let report = try? await findings.latestCompletedRun() {
                buffer += Array(ReconcileMetrics.textfile(for: report, labels: ["scope": report.run.scope]).utf8)
            }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
    }
}

/// `/readyz` while this server should get no traffic although the database answers.
struct NotReady: Encodable {
    var status: String
    /// While warming: the identities the lookup cache holds so far, and about how many it expects.
    var identitiesLoaded: Int?
    var identitiesExpected: Int?

    enum CodingKeys: String, CodingKey {
        case status
        case identitiesLoaded = "identities_loaded"
        case identitiesExpected = "identities_expected"
    }
}

/// Connection-pool occupancy, read at scrape time.
struct PoolGauges: Sendable {
    let database: Database
    let registry: PrometheusCollectorRegistry

    static var descriptor: MetricNameDescriptor {
        MetricNameDescriptor(
            namespace: "stableid", subsystem: "db", metricName: "pool", unitName: "connections",
            helpText: "Database connection pool: open connections; idle, leased and waiting slots and callers"
        )
    }

    func update() {
        for usage in database.poolUsage() {
            for (state, value) in [("open", usage.open), ("idle", usage.idle), ("leased", usage.leased), ("waiting", usage.waiting)] {
                registry.makeGauge(descriptor: Self.descriptor, labels: [("pool", usage.role), ("state", state)]).set(Double(value))
            }
        }
    }
}
