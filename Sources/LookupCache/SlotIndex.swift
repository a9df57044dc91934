import CPrefetch

/// `(pool, sub)` → slot number of a shard's ``PackedIdentity``: an open-addressing hash table
/// with linear probing, each bucket holding its key and its slot together.
///
/// Why not a `Dictionary`: it keeps keys and values in separate arrays, so a lookup misses the
/// cache twice before it reaches the entry, and hashes with SipHash; and where a bucket lies
/// cannot be known without probing, so a batch could not ask for its lines ahead
/// (``prefetch(_:)``). Here a bucket is 24 bytes (the key's 20 and the slot), the home bucket is
/// a mix of the key's bits, and a lookup reads the home bucket's line or two (a quarter of the
/// buckets straddle two) and, past a collision, the next bucket, usually in the same lines.
///
/// Deletion moves later entries of the run back into the hole (Knuth, TAOCP vol. 3, §6.4,
/// Algorithm R), so no tombstones pile up and probe lengths stay what the load allows: at most
/// 3/4 full, then doubled.
struct SlotIndex: Sendable {
    private struct Bucket {
        var high: UInt64
        var low: UInt64
        var pool: UInt32
        /// ``empty`` when the bucket is free.
        var slot: UInt32

        static let empty = UInt32.max
        static let free = Bucket(high: 0, low: 0, pool: 0, slot: empty)
    }

    private var buckets: [Bucket] = []
    /// `buckets.count - 1` (a power of two), or 0 while empty.
    private var mask = 0
    /// 64 − log2(buckets.count): the home bucket is the top bits of the key's hash.
    private var shift: UInt64 = 64
    private(set) var count = 0

    /// Slot numbers are below `UInt32.max`, which marks a free bucket.
    static let maxSlot = UInt32.max - 1

    /// Entries that fit before the table grows.
    var capacity: Int { buckets.count / 4 * 3 }

    var reservedBytes: Int { buckets.capacity * MemoryLayout<Bucket>.stride }

    subscript(key: ShardKey) -> UInt32? {
        guard count > 0 else { return nil }
        var index = home(key)
        while true {
            let bucket = buckets[index]
            if bucket.slot == Bucket.empty { return nil }
            if bucket.high == key.sub.high, bucket.low == key.sub.low, bucket.pool == key.pool { return bucket.slot }
            index = (index + 1) & mask
        }
    }

    /// Asks the processor to start loading `key`'s home bucket (both its lines when it straddles
    /// two), for a lookup a little later.
    func prefetch(_ key: ShardKey) {
        guard count > 0 else { return }
        buckets.withUnsafeBytes { raw in
            let start = raw.baseAddress! + home(key) * MemoryLayout<Bucket>.stride
            stableid_prefetch(start)
            stableid_prefetch(start + MemoryLayout<Bucket>.size - 1)
        }
    }

    /// Stores `slot` for `key` (replacing its slot if present).
    mutating func set(_ slot: UInt32, for key: ShardKey) {
        precondition(slot <= Self.maxSlot)
        if count > 0 {
            var index = home(key)
            while buckets[index].slot != Bucket.empty {
                if buckets[index].high == key.sub.high, buckets[index].low == key.sub.low, buckets[index].pool == key.pool {
                    buckets[index].slot = slot
                    return
                }
                index = (index + 1) & mask
            }
        }
        // A new key: grow first if it would pass 3/4 full, then take the first free bucket.
        if count + 1 > capacity { resize(minimumCount: count + 1) }
        var index = home(key)
        while buckets[index].slot != Bucket.empty { index = (index + 1) & mask }
        buckets[index] = Bucket(high: key.sub.high, low: key.sub.low, pool: key.pool, slot: slot)
        count += 1
    }

    /// Forgets `key`; returns its slot, or nil when it was not stored.
    @discardableResult
    mutating func remove(_ key: ShardKey) -> UInt32? {
        guard count > 0 else { return nil }
        var hole = home(key)
        while true {
            let bucket = buckets[hole]
            if bucket.slot == Bucket.empty { return nil }
            if bucket.high == key.sub.high, bucket.low == key.sub.low, bucket.pool == key.pool { break }
            hole = (hole + 1) & mask
        }
        let removed = buckets[hole].slot
        // A lookup walks from a key's home to the first free bucket, so the hole must not cut a
        // key off from its home: walk the rest of the run and move back into the hole each entry
        // that is at least as far from its home as the hole is from it (the hole then lies on
        // its path), leaving a new hole behind; entries nearer to home stay.
        var later = (hole + 1) & mask
        while buckets[later].slot != Bucket.empty {
            let fromHome = (later &- home(buckets[later])) & mask
            let fromHole = (later &- hole) & mask
            if fromHome >= fromHole {
                buckets[hole] = buckets[later]
                hole = later
            }
            later = (later + 1) & mask
        }
        buckets[hole] = .free
        count -= 1
        return removed
    }

    mutating func removeAll() {
        buckets = []
        mask = 0
        shift = 64
        count = 0
    }

    /// Room for `entries` without growing.
    mutating func reserveCapacity(_ entries: Int) {
        if entries > capacity { resize(minimumCount: entries) }
    }

    /// Every stored slot, in no particular order.
    var slots: [UInt32] {
        var slots: [UInt32] = []
        slots.reserveCapacity(count)
        for bucket in buckets where bucket.slot != Bucket.empty { slots.append(bucket.slot) }
        return slots
    }

    private func home(_ key: ShardKey) -> Int {
        home(high: key.sub.high, low: key.sub.low, pool: key.pool)
    }

    private func home(_ bucket: Bucket) -> Int {
        home(high: bucket.high, low: bucket.low, pool: bucket.pool)
    }

    /// Both words and the pool mixed by odd multipliers, folded twice, then the top bits. The
    /// shard was chosen from the top bits of another product of the sub, so these are not the
    /// same bits; subs of one pattern (sequential or strided, as in tests and benchmarks) spread
    /// as well as random ones.
    private func home(high: UInt64, low: UInt64, pool: UInt32) -> Int {
        var hash = (high &* 0xFF51_AFD7_ED55_8CCD) ^ (low &* 0xC4CE_B9FE_1A85_EC53) ^ (UInt64(pool) &* 0x9E37_79B9_7F4A_7C15)
        hash ^= hash >> 31
        hash &*= 0x94D0_49BB_1331_11EB
        hash ^= hash >> 29
        hash &*= 0xBF58_476D_1CE4_E5B9
        return Int(truncatingIfNeeded: hash >> shift)
    }

    private mutating func resize(minimumCount: Int) {
        var size = 16
        while size / 4 * 3 < minimumCount { size <<= 1 }
        let old = buckets
        buckets = [Bucket](repeating: .free, count: size)
        mask = size - 1
        shift = UInt64(64 - size.trailingZeroBitCount)
        for bucket in old where bucket.slot != Bucket.empty {
            var index = home(bucket)
            while buckets[index].slot != Bucket.empty { index = (index + 1) & mask }
            buckets[index] = bucket
        }
    }
}
