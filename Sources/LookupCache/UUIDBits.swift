import Foundation
import Support

/// A UUID as two 64-bit words: 16 bytes stored inline, where a 36-character `String` would cost
/// a heap allocation per entry. Holds subs (read from their canonical text) and user ids.
struct UUIDBits: Hashable, Sendable {
    var high: UInt64
    var low: UInt64

    init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    init(_ uuid: UUID) {
        var high: UInt64 = 0
        var low: UInt64 = 0
        withUnsafeBytes(of: uuid.uuid) { bytes in
            for index in 0..<8 { high = high << 8 | UInt64(bytes[index]) }
            for index in 8..<16 { low = low << 8 | UInt64(bytes[index]) }
        }
        self.high = high
        self.low = low
    }

    var uuid: UUID {
        func byte(_ word: UInt64, _ index: Int) -> UInt8 { UInt8(truncatingIfNeeded: word >> (56 - 8 * index)) }
        return UUID(
            uuid: (
                byte(high, 0), byte(high, 1), byte(high, 2), byte(high, 3), byte(high, 4), byte(high, 5), byte(high, 6),
                byte(high, 7), byte(low, 0), byte(low, 1), byte(low, 2), byte(low, 3), byte(low, 4), byte(low, 5),
                byte(low, 6), byte(low, 7)
            ))
    }

    /// Only the canonical spelling (lower-case hex, dashes after 8, 12, 16 and 20 digits), the
    /// one `CognitoSub.canonical` produces and the map stores. PostgreSQL compares `sub` as text,
    /// so any other spelling never finds a stored identity there and must not find one here.
    init?(canonicalText text: String) {
        var text = text
        guard let bits = text.withUTF8({ Self.parse(canonicalUTF8: $0) }) else { return nil }
        self = bits
    }

    /// Over the contiguous UTF-8: a generic walk of `utf8` costs a witness call per byte, and
    /// warm-up reads a million subs.
    private static func parse(canonicalUTF8 utf8: UnsafeBufferPointer<UInt8>) -> UUIDBits? {
        guard utf8.count == 36 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        var digits = 0
        for position in 0..<36 {
            let byte = utf8[position]
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard byte == UInt8(ascii: "-") else { return nil }
                continue
            }
            let value: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = byte &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = byte &- UInt8(ascii: "a") &+ 10
            default: return nil
            }
            if digits < 16 {
                high = high << 4 | UInt64(value)
            } else {
                low = low << 4 | UInt64(value)
            }
            digits += 1
        }
        return UUIDBits(high: high, low: low)
    }

    /// The canonical text back: `8-4-4-4-12` lower-case hex digits.
    var canonicalText: String {
        String(unsafeUninitializedCapacity: Hex.uuidTextLength) { out in
            // The words big-endian, high first: the UUID's 16 bytes in order.
            withUnsafeBytes(of: (high.bigEndian, low.bigEndian)) { Hex.writeUUID($0, into: out.baseAddress!) }
            return Hex.uuidTextLength
        }
    }
}
