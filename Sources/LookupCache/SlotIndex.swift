import CPrefetch

/// `(pool, sub)` → slot number of a shard's ``PackedIdentity``: an open-addressing hash table
/// with linear probing, each bucket holding its key and its slot together.
///
/// Why not a `Dictionary`: it keeps keys and values in separate arrays, so a lookup misses the
/// cache twice before it reaches the entry, and hashes with SipHash; and where a bucket lies
/// cannot be known without probing, so a batch could not ask for its lines ahead
/// (``prefetch(_:)``). Here a bucket is 24 bytes (the key's 20 and the slot), the home bucket is
/// a multiply-and-shift of the key, and a lookup reads one line, rarely two.
///
/// Deletion shifts the following run back (no tombstones), so probe lengths stay what the load
/// allows: at most 3/4 full, then doubled.
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

    /// Asks the processor to start loading `key`'s home bucket, for a lookup a little later.
    func prefetch(_ key: ShardKey) {
        guard count > 0 else { return }
        buckets.withUnsafeBufferPointer { stableid_prefetch($0.baseAddress! + home(key)) }
    }

    /// Stores `slot` for `key` (replacing its slot if present).
    mutating func set(_ slot: UInt32, for key: ShardKey) {
        precondition(slot <= Self.maxSlot)
        if count + 1 > capacity { resize(minimumCount: count + 1) }
        var index = home(key)
        while buckets[index].slot != Bucket.empty {
            if buckets[index].high == key.sub.high, buckets[index].low == key.sub.low, buckets[index].pool == key.pool {
                buckets[index].slot = slot
                return
            }
            index = (index + 1) & mask
        }
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
        // Backward shift: every later bucket of the run that may live at the hole moves into it,
        // so no lookup ever stops early at a free bucket in front of its key.
        var next = (hole + 1) & mask
        while buckets[next].slot != Bucket.empty {
            let wanted = home(buckets[next])
            // `next` may move to `hole` unless its home lies cyclically in (hole, next].
            let staysPut = hole <= next ? (hole < wanted && wanted <= next) : (hole < wanted || wanted <= next)
            if !staysPut {
                buckets[hole] = buckets[next]
                hole = next
            }
            next = (next + 1) & mask
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

    /// Both words and the pool mixed by odd multipliers, then the top bits. The shard was chosen
    /// from the top bits of another product of the sub, so these are not the same bits; subs of
    /// one pattern (sequential ones in tests and benchmarks) still spread.
    private func home(high: UInt64, low: UInt64, pool: UInt32) -> Int {
        var hash = (high &* 0xFF51_AFD7_ED55_8CCD) ^ (low &* 0xC4CE_B9FE_1A85_EC53) ^ (UInt64(pool) &* 0x9E37_79B9_7F4A_7C15)
        hash ^= hash >> 31
        hash &*= 0x94D0_49BB_1331_11EB
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
