public import IdentityMap
import Metrics

extension LookupCache {
    /// The answer from memory when the cache has it, else `database(reference)` — the
    /// `ResolveCoalescer` in the service. A miss never writes the map (see ``LookupCache``).
    public func resolve(
        _ reference: IdentityReference,
        orElse database: (IdentityReference) async throws -> Resolution?
    ) async throws -> Resolution? {
        if let cached = cachedResolution(for: reference) { return cached }
        return try await database(reference)
    }

    /// A batch: answers from memory where it has them, and the rest in one call of `database`
    /// (`IdentityMapStore.resolve(batch:)`), which is skipped when every item was found.
    /// Answers in the order asked.
    public func resolve(
        batch references: [IdentityReference],
        orElse database: ([IdentityReference]) async throws -> [Resolution?]
    ) async throws -> [Resolution?] {
        var results = [Resolution?](repeating: nil, count: references.count)
        var missing: [Int] = []
        // One serving check and one counter update per batch, not per item.
        if isServing() {
            for (position, reference) in references.enumerated() {
                if let cached = storedResolution(for: reference) {
                    results[position] = cached
                } else {
                    missing.append(position)
                }
            }
            metrics.hits.increment(by: references.count - missing.count)
            metrics.misses.increment(by: missing.count)
        } else {
            missing = Array(references.indices)
            metrics.bypassed.increment(by: references.count)
        }
        guard !missing.isEmpty else { return results }
        let fetched = try await database(missing.map { references[$0] })
        for (position, answer) in zip(missing, fetched) {
            results[position] = answer
        }
        return results
    }
}
