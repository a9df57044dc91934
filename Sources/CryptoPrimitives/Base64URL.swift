/// Unpadded base64url (RFC 4648 §5), for tokens that travel in headers and URLs.
public enum Base64URL {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    /// Each byte's value in the alphabet; 0xFF for a byte outside it.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    public static func encode(_ bytes: [UInt8]) -> String {
        // Appended a character at a time: an array literal per group allocated per group (the
        // feed writes a cursor per change, a thousand a page).
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        func emit(_ n: UInt32, _ count: Int) {
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            if count > 2 { out.append(alphabet[Int(n >> 6 & 63)]) }
            if count > 3 { out.append(alphabet[Int(n & 63)]) }
        }
        var index = 0
        while index + 3 <= bytes.count {
            emit(UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8 | UInt32(bytes[index + 2]), 4)
            index += 3
        }
        switch bytes.count - index {
        case 1: emit(UInt32(bytes[index]) << 16, 2)
        case 2: emit(UInt32(bytes[index]) << 16 | UInt32(bytes[index + 1]) << 8, 3)
        default: break
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil unless it is exactly what ``encode(_:)`` writes: only the
    /// URL alphabet (no padding, no `+`, `/` or whitespace), a length some encoding has (never
    /// 4n + 1), and unused trailing bits zero. The last rule leaves one spelling per byte string,
    /// so a JWT's parts cannot be respelled into a second, different-looking token.
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        decode(utf8: text.utf8)
    }

    public static func decode(utf8 text: some Collection<UInt8>) -> [UInt8]? {
        // Token parts arrive as contiguous slices: read them in place, not through a generic
        // iterator (which cost more than the RSA check on the token lookup's hot path).
        if let decoded = text.withContiguousStorageIfAvailable({ decode(bytes: $0) }) { return decoded }
        return Array(text).withUnsafeBufferPointer { decode(bytes: $0) }
    }

    private static func decode(bytes text: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        guard text.count % 4 != 1 else { return nil }
        return values.withUnsafeBufferPointer { values in
            var valid = true
            // Bits read but not yet written out: `pending` of them, the low bits of `buffer`.
            var buffer: UInt32 = 0
            var pending = 0
            let out = [UInt8](unsafeUninitializedCapacity: text.count * 3 / 4) { out, written in
                written = 0
                for byte in text {
                    let value = values[Int(byte)]
                    guard value != 0xFF else {
                        valid = false
                        return
                    }
                    buffer = (buffer << 6 | UInt32(value)) & 0xFFFF
                    pending += 6
                    if pending >= 8 {
                        pending -= 8
                        out[written] = UInt8(truncatingIfNeeded: buffer >> UInt32(pending))
                        written += 1
                    }
                }
            }
            guard valid, buffer & ((1 << UInt32(pending)) - 1) == 0 else { return nil }
            return out
        }
    }
}
