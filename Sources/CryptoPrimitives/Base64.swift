/// Standard base64 with padding (RFC 4648 §4), as Standard Webhooks writes its secrets
/// (`whsec_` + base64) and signatures (`v1,` + base64 of the HMAC).
public enum Base64 {
    private static let alphabet: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    /// Each byte's value in the alphabet; 0xFF for a byte outside it.
    private static let values: [UInt8] = {
        var table = [UInt8](repeating: 0xFF, count: 256)
        for (value, byte) in alphabet.enumerated() { table[Int(byte)] = UInt8(value) }
        return table
    }()

    public static func encode(_ bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var index = 0
        while index < bytes.count {
            let count = min(3, bytes.count - index)
            var n = UInt32(bytes[index]) << 16
            if count > 1 { n |= UInt32(bytes[index + 1]) << 8 }
            if count > 2 { n |= UInt32(bytes[index + 2]) }
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            out.append(count > 1 ? alphabet[Int(n >> 6 & 63)] : UInt8(ascii: "="))
            out.append(count > 2 ? alphabet[Int(n & 63)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `text` encodes, or nil unless it is exactly what ``encode(_:)`` writes: the
    /// standard alphabet, padded to a multiple of 4 with at most two `=` at the end, no
    /// whitespace, and unused trailing bits zero (one spelling per byte string).
    public static func decode(_ text: some StringProtocol) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 4 == 0 else { return nil }
        let padding = utf8.reversed().prefix(while: { $0 == UInt8(ascii: "=") }).count
        guard padding <= 2 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 4 * 3)
        var buffer: UInt32 = 0
        var pending = 0
        for byte in utf8.dropLast(padding) {
            let value = values[Int(byte)]
            guard value != 0xFF else { return nil }
            buffer = (buffer << 6 | UInt32(value)) & 0xFFFF
            pending += 6
            if pending >= 8 {
                pending -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(pending)))
            }
        }
        // The padding must be exactly what the leftover bits call for: none, `==` or `=`.
        guard padding == [0: 0, 4: 2, 2: 1][pending], buffer & ((1 << UInt32(pending)) - 1) == 0 else { return nil }
        return out
    }
}
