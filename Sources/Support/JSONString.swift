/// A JSON string literal (RFC 8259 §7) as this service writes it by hand: the one spelling of
/// string escapes for the lookup answers (`JSONWriter`, `AnswerCursor`) and the trigger answers
/// (`TriggerJSON.jsonText`), so that equal texts always give equal bytes.
///
/// The quote, the backslash and the control characters below U+0020 are escaped — `\"`, `\\`,
/// `\n`, `\r`, `\t`, `\b`, `\f`, the others as `\u00XX` with lower-case digits — and every other
/// byte is copied as is: slashes, DEL and all non-ASCII text. Escaping byte by byte is escaping
/// character by character, because no byte of a multi-byte UTF-8 sequence is below 0x80.
///
/// Not the audit trail's spelling: event details and personal data are encoded by `JSONEncoder`
/// (`JSONEncoder.sortedKeys()`, through `JSONValue.canonicalText`) and hashed as the text
/// PostgreSQL prints for the stored `jsonb` (docs/AUDIT.md); neither goes through this type, and
/// a change here changes no audit byte.
public enum JSONString {
    /// The most bytes one byte of text becomes (`\u00XX`), for writers that reserve room first.
    public static let maxEscapedLength = 6

    /// Whether `byte`, of UTF-8 text, must be escaped.
    @inlinable
    public static func needsEscape(_ byte: UInt8) -> Bool {
        byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
    }

    /// Writes the escape of `byte`, one that ``needsEscape(_:)`` names, at `out` and returns its
    /// length: 2, or 6 for `\u00XX`.
    @inlinable
    public static func writeEscape(_ byte: UInt8, into out: UnsafeMutablePointer<UInt8>) -> Int {
        out[0] = UInt8(ascii: "\\")
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"): out[1] = byte
        case 0x0A: out[1] = UInt8(ascii: "n")
        case 0x0D: out[1] = UInt8(ascii: "r")
        case 0x09: out[1] = UInt8(ascii: "t")
        case 0x08: out[1] = UInt8(ascii: "b")
        case 0x0C: out[1] = UInt8(ascii: "f")
        default:
            out[1] = UInt8(ascii: "u")
            out[2] = UInt8(ascii: "0")
            out[3] = UInt8(ascii: "0")
            Hex.write(byte, into: out + 4)
            return 6
        }
        return 2
    }

    /// Appends `utf8` to `out` as a quoted JSON string. Runs of bytes that need no escape (nearly
    /// all of them) are copied at once.
    @inlinable
    public static func append(utf8: UnsafeBufferPointer<UInt8>, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var start = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard needsEscape(byte) else { continue }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
            withUnsafeTemporaryAllocation(of: UInt8.self, capacity: maxEscapedLength) { escape in
                let length = writeEscape(byte, into: escape.baseAddress!)
                out.append(contentsOf: UnsafeBufferPointer(rebasing: escape[..<length]))
            }
            start = index + 1
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        out.append(UInt8(ascii: "\""))
    }

    /// Writes `utf8` as a quoted JSON string at `out`, which has room for
    /// `2 + maxEscapedLength × utf8.count` bytes, and returns how many it wrote.
    @inlinable
    public static func write(utf8: UnsafeRawBufferPointer, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var position = out
        position.pointee = UInt8(ascii: "\"")
        position += 1
        if !utf8.contains(where: needsEscape) {
            // Nearly every text: one copy.
            if let base = utf8.baseAddress {
                UnsafeMutableRawPointer(position).copyMemory(from: base, byteCount: utf8.count)
                position += utf8.count
            }
        } else {
            for byte in utf8 {
                if needsEscape(byte) {
                    position += writeEscape(byte, into: position)
                } else {
                    position.pointee = byte
                    position += 1
                }
            }
        }
        position.pointee = UInt8(ascii: "\"")
        position += 1
        return position - out
    }

    /// `text` as a quoted JSON string.
    public static func quoted(_ text: String) -> String {
        var text = text
        var out: [UInt8] = []
        text.withUTF8 { utf8 in
            out.reserveCapacity(utf8.count + 2)
            append(utf8: utf8, to: &out)
        }
        return String(decoding: out, as: UTF8.self)
    }
}
