import Synchronization

/// Bounds the batch lookups sent to PostgreSQL while the read model is not live. A batch is a
/// thousand lookups in one statement: a warming server that took every batch would queue them on
/// its connection pool until they timed out (503 `database_unavailable` after seconds) and load
/// the database every other server uses. Beyond `limit` in flight a batch is shed at once with
/// 503 `overloaded` and `Retry-After`, which clients and balancers retry elsewhere; single lookups
/// are not bounded here (the coalescer already batches them).
final class ColdBatchAdmission: Sendable {
    struct Shed: Error {}

    let limit: Int
    private let inFlight = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = max(1, limit)
    }

    func run<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let (_, admitted) = inFlight.wrappingAdd(1, ordering: .acquiring)
        guard admitted <= limit else {
            inFlight.wrappingSubtract(1, ordering: .releasing)
            throw Shed()
        }
        defer { inFlight.wrappingSubtract(1, ordering: .releasing) }
        return try await body()
    }
}
