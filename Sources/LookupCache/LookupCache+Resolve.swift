public import IdentityMap
import Metrics

extension LookupCache {
    /// A batch: answers from memory where it has them, and the rest in one call of `database`
    /// (`IdentityMapStore.resolve(batch:)`), which is skipped when every item was found.
    /// Answers in the order asked.
    public func resolve(
        batch references: [IdentityReference],
        orElse database: ([IdentityReference]) async throws -> [Resolution?]
    ) async throws -> [Resolution?] {
        var results: [Resolution?]
        var missing: [Int] = []
        // One serving check and one counter update per batch, not per item.
        if isServing() {
            // A large batch is looked up in two halves on two cores: the lookups are independent,
            // and the caller waits for the slower half only.
            if references.count >= 256 {
                let middle = references.count / 2
                async let secondHalf = lookUp(references[middle...])
                let (firstFound, firstMissing) = lookUp(references[..<middle])
                let (secondFound, secondMissing) = await secondHalf
                results = firstFound + secondFound
                missing = firstMissing + secondMissing
            } else {
                (results, missing) = lookUp(references[...])
            }
            metrics.hits.increment(by: references.count - missing.count)
            metrics.misses.increment(by: missing.count)
        } else {
            results = [Resolution?](repeating: nil, count: references.count)
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

    /// Answers from memory for a slice of a batch, and the positions (in the whole batch) it lacks.
    private func lookUp(_ references: ArraySlice<IdentityReference>) -> (found: [Resolution?], missing: [Int]) {
        var found: [Resolution?] = []
        found.reserveCapacity(references.count)
        var missing: [Int] = []
        for position in references.indices {
            let cached = storedResolution(for: references[position])
            if cached == nil { missing.append(position) }
            found.append(cached)
        }
        return (found, missing)
    }
}
