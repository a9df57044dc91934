import Testing

@testable import LookupCache

@Suite("Slot index", .timeLimit(.minutes(2)))
struct SlotIndexTests {
    @Test("random sets, replacements and removals answer as a Dictionary does, through growth and backward shifts")
    func agreesWithDictionary() {
        var random = SeededGenerator(state: 42)
        var index = SlotIndex()
        var expected: [ShardKey: UInt32] = [:]
        // Few distinct keys of sequential subs (the benchmark's pattern) and two pools, so runs
        // collide, wrap around the end of the table and are shifted back by removals.
        let keys = (0..<3_000).map {
            ShardKey(sub: UUIDBits(high: 0x4000, low: 0x8000_0000_0000_0000 | UInt64($0 / 2)), pool: UInt32($0 % 2))
        }
        for step in 0..<60_000 {
            let key = keys[Int.random(in: 0..<keys.count, using: &random)]
            switch Int.random(in: 0..<10, using: &random) {
            case 0..<5:
                let slot = UInt32(step)
                index.set(slot, for: key)
                expected[key] = slot
            case 5..<8:
                #expect(index.remove(key) == expected.removeValue(forKey: key))
            default:
                #expect(index[key] == expected[key])
            }
            if step % 5_000 == 0 {
                #expect(index.count == expected.count)
                for key in keys { #expect(index[key] == expected[key]) }
            }
        }
        #expect(index.count == expected.count)
        #expect(index.slots.sorted() == expected.values.sorted())
        for key in keys { #expect(index[key] == expected[key]) }
        // Emptied one key at a time, then cleared.
        for key in expected.keys { #expect(index.remove(key) != nil) }
        #expect(index.count == 0)
        #expect(index[keys[0]] == nil)
        index.set(7, for: keys[0])
        index.removeAll()
        #expect(index[keys[0]] == nil && index.count == 0)
    }

    @Test("reserved room is not outgrown until it is used, and stays at most 3/4 full")
    func reservesAndGrows() {
        var index = SlotIndex()
        #expect(index[ShardKey(sub: UUIDBits(high: 1, low: 2), pool: 0)] == nil)
        index.reserveCapacity(10_000)
        let reserved = index.reservedBytes
        #expect(index.capacity >= 10_000)
        for n in 0..<10_000 { index.set(UInt32(n), for: ShardKey(sub: UUIDBits(high: UInt64(n), low: ~UInt64(n)), pool: 3)) }
        #expect(index.reservedBytes == reserved)
        #expect(index.count == 10_000)
        for n in 0..<20_000 { index.set(UInt32(n), for: ShardKey(sub: UUIDBits(high: UInt64(n), low: ~UInt64(n)), pool: 3)) }
        #expect(index.count == 20_000 && index.capacity >= 20_000)
        #expect(index[ShardKey(sub: UUIDBits(high: 19_999, low: ~UInt64(19_999)), pool: 3)] == 19_999)
        #expect(index[ShardKey(sub: UUIDBits(high: 19_999, low: ~UInt64(19_999)), pool: 4)] == nil)
        // Replacing slots when exactly full does not grow the table; one new key does.
        var full = SlotIndex()
        let keys = (0..<12).map { ShardKey(sub: UUIDBits(high: UInt64($0) << 12, low: 7), pool: 0) }
        for (slot, key) in keys.enumerated() { full.set(UInt32(slot), for: key) }
        #expect(full.count == 12 && full.capacity == 12)
        let size = full.reservedBytes
        for key in keys { full.set(99, for: key) }
        #expect(full.reservedBytes == size && full.count == 12 && full[keys[5]] == 99)
        full.set(1, for: ShardKey(sub: UUIDBits(high: 1, low: 1), pool: 0))
        #expect(full.reservedBytes > size && full.count == 13 && full[keys[5]] == 99)
        // Hints on an emptied index are harmless.
        full.removeAll()
        full.prefetch(keys[0])
        #expect(full[keys[0]] == nil)
    }
}
