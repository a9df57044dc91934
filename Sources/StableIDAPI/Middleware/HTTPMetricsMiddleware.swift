import Hummingbird
import Metrics
import Synchronization

/// Request counts and latency histograms by route template, method and status.
///
/// Labels use the route template (`/v1/users/{id}`), never the raw path, so cardinality stays fixed.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: HTTPMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        metrics.record(
            route: route,
            method: request.method.rawValue,
            status: Int(response.status.code),
            duration: ContinuousClock.now - start
        )
        return response
    }
}

/// Caches the metric objects per label set: creating them through the factory on every request
/// would cost a registry lookup each time.
final class HTTPMetrics: Sendable {
    private struct Key: Hashable {
        var route: String
        var method: String
        var status: Int
    }
    private let factory: any MetricsFactory
    private let cache = Mutex<[Key: (Counter, Metrics.Timer)]>([:])

    init(factory: any MetricsFactory) {
        self.factory = factory
    }

    func record(route: String, method: String, status: Int, duration: Duration) {
        let key = Key(route: route, method: method, status: status)
        let (counter, timer) = cache.withLock { cache in
            if let found = cache[key] { return found }
            let dimensions = [("route", route), ("method", method), ("status", String(status))]
            let made = (
                Counter(label: "stableid_http_requests_total", dimensions: dimensions, factory: factory),
                Metrics.Timer(label: "stableid_http_request_duration_seconds", dimensions: dimensions, factory: factory)
            )
            cache[key] = made
            return made
        }
        counter.increment()
        timer.record(duration: duration)
    }
}
