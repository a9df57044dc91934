/// Hexadecimal text for bytes: `bytea`, digests, signatures, percent- and `\u` escapes.
///
/// The one place that knows the digits, so the database, the audit chain, SigV4, the JSON
/// writers' escapes and UUID text cannot drift apart on case or padding. Digits are computed
/// rather than looked up in a table, which keeps ``appendEncoded(_:to:uppercase:)``,
/// ``write(_:into:uppercase:)`` and ``writeUUID(_:into:)`` inlinable into hot loops of other
/// modules.
public enum Hex {
    /// Lower-case, two digits per byte.
    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let fast: String? = bytes.withContiguousStorageIfAvailable { buffer in
            String(unsafeUninitializedCapacity: buffer.count * 2) { out in
                var index = 0
                for byte in buffer {
                    out[index] = digit(byte >> 4, uppercase: false)
                    out[index + 1] = digit(byte & 0x0f, uppercase: false)
                    index += 2
                }
                return index
            }
        }
        if let fast { return fast }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes { appendEncoded(byte, to: &out) }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of `text`, or nil when it has an odd length or a character that is not a hex
    /// digit. Either case is accepted, because other systems print upper case.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        // Over the contiguous UTF-8 of a String: a generic walk of `utf8` costs a witness call per
        // character, which made hex decoding the top of `audit verify`'s profile.
        var string = String(text)
        return string.withUTF8 { decode(utf8: $0) }
    }

    /// The bytes the hex digits in `utf8` spell, or nil (odd length, a non-digit).
    public static func decode(utf8: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard utf8.count % 2 == 0 else { return nil }
        var valid = true
        let bytes = [UInt8](unsafeUninitializedCapacity: utf8.count / 2) { out, initialized in
            var index = 0
            while index < utf8.count {
                guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else {
                    valid = false
                    break
                }
                out[index / 2] = high << 4 | low
                index += 2
            }
            initialized = index / 2
        }
        return valid ? bytes : nil
    }

    /// Appends the two digits of `byte`, for writers that build their output as bytes.
    @inlinable
    public static func appendEncoded(_ byte: UInt8, to out: inout [UInt8], uppercase: Bool = false) {
        out.append(digit(byte >> 4, uppercase: uppercase))
        out.append(digit(byte & 0x0f, uppercase: uppercase))
    }

    /// Writes the two digits of `byte` at `out`, for writers that fill room they reserved
    /// (the JSON writers' `\u00XX` escapes, UUIDs).
    @inlinable
    public static func write(_ byte: UInt8, into out: UnsafeMutablePointer<UInt8>, uppercase: Bool = false) {
        out[0] = digit(byte >> 4, uppercase: uppercase)
        out[1] = digit(byte & 0x0f, uppercase: uppercase)
    }

    /// The length of a UUID's text, ``writeUUID(_:into:)``'s output.
    public static let uuidTextLength = 36

    /// Writes the canonical text of the 16 bytes of a UUID at `out`: 36 bytes, lower-case digits,
    /// dashes after 8, 12, 16 and 20 digits (`Foundation.UUID` spells it upper-case).
    @inlinable
    public static func writeUUID(_ bytes: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) {
        precondition(bytes.count == 16, "a UUID is 16 bytes")
        var position = 0
        for index in 0..<16 {
            if index == 4 || index == 6 || index == 8 || index == 10 {
                out[position] = UInt8(ascii: "-")
                position += 1
            }
            write(bytes[index], into: out + position)
            position += 2
        }
    }

    /// The digit of `nibble` (0...15).
    @inlinable
    public static func digit(_ nibble: UInt8, uppercase: Bool = false) -> UInt8 {
        if nibble < 10 { return UInt8(ascii: "0") &+ nibble }
        return (uppercase ? UInt8(ascii: "A") : UInt8(ascii: "a")) &+ (nibble &- 10)
    }

    static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return character - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return character - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return character - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
