import Foundation
import Support

/// The unmigrated set of one source pool (or one slice of it) as a table in memory, read in one
/// set-wise query, for a `--mode csv` export from a list-users file.
///
/// Asking PostgreSQL about each batch of 5,000 users costs five index probes per user into tables
/// of a million rows (~300 ms a batch, most of a 1M-user export); the same decisions for the
/// whole pool are a few hash joins (~5 s). A user costs 33 bytes here (sub, person, flags),
/// sorted by sub here and searched by bisection: 40 MB for a million users. Larger sets are
/// split into slices by the sub's first byte (``FinalizeStore/csvDecisionSlices(campaign:pool:)``)
/// and the file read once per slice, so memory stays bounded whatever the campaign's size.
struct CSVDecisionTable: Sendable {
    /// A sub's 16 bytes as two big-endian words: ordered as PostgreSQL orders `uuid` (bytewise).
    struct SubKey: Comparable, Sendable {
        var high: UInt64
        var low: UInt64

        static func < (a: SubKey, b: SubKey) -> Bool { a.high != b.high ? a.high < b.high : a.low < b.low }

        /// The key of a UUID written as text (either case); nil for anything else, which no
        /// finding of the table can match (their subs are UUIDs).
        init?(text: String) {
            var text = text
            guard let key = text.withUTF8({ SubKey(utf8: $0) }) else { return nil }
            self = key
        }

        init?(utf8: UnsafeBufferPointer<UInt8>) {
            guard utf8.count == Hex.uuidTextLength else { return nil }
            var words: (UInt64, UInt64) = (0, 0)
            var nibbles = 0
            for (index, byte) in utf8.enumerated() {
                if index == 8 || index == 13 || index == 18 || index == 23 {
                    guard byte == UInt8(ascii: "-") else { return nil }
                    continue
                }
                let value: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte &- UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte &- UInt8(ascii: "a") &+ 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): value = byte &- UInt8(ascii: "A") &+ 10
                default: return nil
                }
                if nibbles < 16 {
                    words.0 = words.0 << 4 | UInt64(value)
                } else {
                    words.1 = words.1 << 4 | UInt64(value)
                }
                nibbles += 1
            }
            self.init(high: words.0, low: words.1)
        }

        init(high: UInt64, low: UInt64) {
            self.high = high
            self.low = low
        }

        init(bytes: UnsafeRawBufferPointer) {
            high = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
            low = UInt64(bigEndian: bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        }

        /// The first byte: which slice the sub falls in.
        var firstByte: UInt8 { UInt8(truncatingIfNeeded: high >> 56) }
    }

    /// The bytes of one entry as the query packs them: sub (16), person (16), flags (1).
    static let entrySize = 33
    static let inTargetFlag: UInt8 = 1
    static let sourceActiveFlag: UInt8 = 2
    static let chosenFlag: UInt8 = 4

    /// The packed set did not have the shape the query gives it: a fault of ours, never data.
    struct Malformed: Error, CustomStringConvertible {
        var reason: String
        var description: String { "the unmigrated set read for the CSV export is malformed: \(reason)" }
    }

    private struct Entry {
        var key: SubKey
        var person: uuid_t
        var flags: UInt8
    }

    private var entries: [Entry] = []

    var count: Int { entries.count }

    /// `expected`: about how many entries will come, reserved at once (growing a 40 MB array by
    /// doubling would hold the old and the new one at once).
    init(expected: Int = 0) {
        entries.reserveCapacity(expected)
    }

    /// Adds packed entries (any order); ``seal()`` once every chunk is in.
    mutating func append(packed bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count % Self.entrySize == 0 else { throw Malformed(reason: "its length is not a whole number of entries") }
        let count = bytes.count / Self.entrySize
        for index in 0..<count {
            let entry = UnsafeRawBufferPointer(rebasing: bytes[index * Self.entrySize..<(index + 1) * Self.entrySize])
            entries.append(
                Entry(
                    key: SubKey(bytes: UnsafeRawBufferPointer(rebasing: entry[0..<16])),
                    person: UnsafeRawBufferPointer(rebasing: entry[16..<32]).loadUnaligned(as: uuid_t.self),
                    flags: entry[32]
                ))
        }
    }

    /// Sorts by sub for ``decision(forSub:)``; a sub that repeats keeps one decision, as the
    /// per-batch query kept one per user.
    mutating func seal() {
        entries.sort { $0.key < $1.key }
        var kept = 0
        for index in entries.indices where kept == 0 || entries[kept - 1].key != entries[index].key {
            entries[kept] = entries[index]
            kept += 1
        }
        entries.removeLast(entries.count - kept)
    }

    /// The decision for the user whose `sub` attribute is `sub`; nil when the sub is not in the
    /// table (not unmigrated, or in another slice).
    func decision(forSub sub: String?) -> FinalizeCSVDecision? {
        guard let sub, let key = SubKey(text: sub) else { return nil }
        var low = 0
        var high = entries.count
        while low < high {
            let middle = (low + high) / 2
            if entries[middle].key < key { low = middle + 1 } else { high = middle }
        }
        guard low < entries.count, entries[low].key == key else { return nil }
        let entry = entries[low]
        return FinalizeCSVDecision(
            person: UUID(uuid: entry.person), inTarget: entry.flags & Self.inTargetFlag != 0,
            sourceActive: entry.flags & Self.sourceActiveFlag != 0, chosen: entry.flags & Self.chosenFlag != 0
        )
    }
}

/// A range of subs by first byte: the part of a pool's unmigrated set one table holds.
struct CSVDecisionSlice: Sendable, Equatable {
    var firstBytes: ClosedRange<UInt8>

    /// `count` slices covering every sub, as even as the 256 first bytes allow.
    static func all(_ count: Int) -> [CSVDecisionSlice] {
        let count = max(1, min(count, 256))
        return (0..<count).map { index in
            let lower = index * 256 / count
            let upper = (index + 1) * 256 / count - 1
            return CSVDecisionSlice(firstBytes: UInt8(lower)...UInt8(upper))
        }
    }
}
