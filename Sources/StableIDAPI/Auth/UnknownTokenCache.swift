/// Token hashes the database said it does not know, remembered for a short time so one unknown
/// token sent again and again (a client left with a revoked token, a replayed flood) costs a hash
/// and a dictionary probe instead of a query each time.
///
/// Bounded without a scan: two generations of at most `capacity / 2` entries. When the current
/// one is full, the older generation is dropped whole and the current one becomes the older, so
/// memory never exceeds `capacity` entries and an insert is O(1) amortized. What is dropped is
/// only ever "ask the database again", never an answer. Expired entries are ignored by
/// ``contains(_:at:)`` and leave with their generation.
struct UnknownTokenCache {
    private var current: [[UInt8]: ContinuousClock.Instant] = [:]
    private var previous: [[UInt8]: ContinuousClock.Instant] = [:]
    let generationCapacity: Int

    init(capacity: Int) {
        generationCapacity = max(1, capacity / 2)
    }

    var count: Int { current.count + previous.count }

    /// Whether `hash` was found unknown and its entry has not expired at `now`.
    func contains(_ hash: [UInt8], at now: ContinuousClock.Instant) -> Bool {
        // An insert always goes to `current`, so its entry is the newer one.
        guard let expires = current[hash] ?? previous[hash] else { return false }
        return expires > now
    }

    mutating func insert(_ hash: [UInt8], until expires: ContinuousClock.Instant) {
        if current.count >= generationCapacity, current[hash] == nil {
            previous = current
            current = [:]
        }
        current[hash] = expires
    }

    /// Forgets `hash`: it belongs to a token made since.
    mutating func remove(_ hash: [UInt8]) {
        current[hash] = nil
        previous[hash] = nil
    }
}
