// The inside of reading a string: its escapes, its UTF-8, and the fast path over plain bytes.
// Apart from JSONScanner.swift because that file holds the grammar; these are only called from
// its `readString`, `skipString` and `readKey`.
extension JSONScanner {
    /// Consumes the opening quote of the string that must come next; returns its index.
    mutating func openString() throws(Failure) -> Int {
        guard skipWhitespace() == JSONByte.quote else { throw unexpected("a string") }
        index += 1
        return index - 1
    }

    /// Moves to the next byte a string cannot copy as it is: its closing quote, a backslash, a
    /// control byte, or the end of the input. The hot loop of every string.
    mutating func skipPlainBytes() {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == JSONByte.quote || byte == JSONByte.backslash || byte < 0x20 { return }
            index += 1
        }
    }

    /// The rest of a string whose plain start ran into an escape or a control byte: decodes it
    /// into `utf8` when `keeping` (else only checks it) and consumes the closing quote.
    mutating func finishString(openedAt start: Int, into utf8: inout [UInt8], keeping: Bool) throws(Failure) {
        var runStart = start + 1
        while true {
            if keeping { utf8.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[runStart..<index])) }
            guard index < bytes.count else { throw Failure(index: start, problem: "the string never ends") }
            let byte = bytes[index]
            if byte == JSONByte.quote {
                index += 1
                break
            } else if byte == JSONByte.backslash {
                try readEscape(into: &utf8, keeping: keeping, stringStart: start)
            } else {
                guard strings == .tolerant else {
                    throw Failure(index: index, problem: "\(Self.describe(byte)) must be escaped in a string")
                }
                if keeping { utf8.append(byte) }
                index += 1
            }
            runStart = index
            skipPlainBytes()
        }
        // Escapes are ASCII and decode to whole characters, so the raw text is UTF-8 exactly
        // when the decoded text is.
        try checkEncoding(UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<(index - 1)]), stringStart: start)
    }

    /// The escape at `index` (its backslash): appends what it stands for to `utf8` when `keeping`.
    mutating func readEscape(into utf8: inout [UInt8], keeping: Bool, stringStart: Int) throws(Failure) {
        let escape = index
        guard index + 1 < bytes.count else { throw Failure(index: stringStart, problem: "the string never ends") }
        let letter = bytes[index + 1]
        index += 2
        let decoded: UInt8
        switch letter {
        case JSONByte.quote, JSONByte.backslash, UInt8(ascii: "/"): decoded = letter
        case UInt8(ascii: "b"): decoded = 0x08
        case UInt8(ascii: "f"): decoded = 0x0C
        case UInt8(ascii: "n"): decoded = 0x0A
        case UInt8(ascii: "r"): decoded = 0x0D
        case UInt8(ascii: "t"): decoded = 0x09
        case UInt8(ascii: "u"):
            let scalar = try readUnicodeEscape(at: escape)
            if keeping { Self.appendUTF8(scalar, to: &utf8) }
            return
        default:
            let shown = (0x21...0x7E).contains(letter) ? "\\\(Character(Unicode.Scalar(letter)))" : "\\ before \(Self.describe(letter))"
            throw Failure(index: escape, problem: "\(shown) is not a JSON escape")
        }
        if keeping { utf8.append(decoded) }
    }

    /// The code point of the `\uXXXX` whose backslash is at `escape` (the scanner is past the
    /// `u`), joined with the low surrogate that must follow a high one.
    mutating func readUnicodeEscape(at escape: Int) throws(Failure) -> UInt32 {
        guard let unit = hexQuad(at: index) else {
            throw Failure(index: escape, problem: "expected 4 hex digits after \\u")
        }
        index += 4
        switch unit {
        case 0xD800..<0xDC00:
            if index + 6 <= bytes.count, bytes[index] == JSONByte.backslash, bytes[index + 1] == UInt8(ascii: "u"),
                let low = hexQuad(at: index + 2), (0xDC00..<0xE000).contains(low)
            {
                index += 6
                return 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
            }
        case 0xDC00..<0xE000:
            break
        default:
            return unit
        }
        // Half a surrogate pair stands for no character.
        guard strings == .tolerant else {
            let digits = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(escape + 2)..<(escape + 6)]), as: UTF8.self)
            throw Failure(index: escape, problem: "\\u\(digits) is half of a surrogate pair")
        }
        return 0xFFFD
    }

    func hexQuad(at offset: Int) -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for position in offset..<(offset + 4) {
            guard let digit = Hex.nibble(bytes[position]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    static func appendUTF8(_ scalar: UInt32, to utf8: inout [UInt8]) {
        func continuation(_ shift: UInt32) -> UInt8 { 0x80 | UInt8((scalar >> shift) & 0x3F) }
        switch scalar {
        case 0..<0x80:
            utf8.append(UInt8(scalar))
        case 0x80..<0x800:
            utf8.append(0xC0 | UInt8(scalar >> 6))
            utf8.append(continuation(0))
        case 0x800..<0x10000:
            utf8.append(0xE0 | UInt8(scalar >> 12))
            utf8.append(continuation(6))
            utf8.append(continuation(0))
        default:
            utf8.append(0xF0 | UInt8(scalar >> 18))
            utf8.append(continuation(12))
            utf8.append(continuation(6))
            utf8.append(continuation(0))
        }
    }

    func checkEncoding(_ content: UnsafeRawBufferPointer, stringStart: Int) throws(Failure) {
        guard strings == .strict, !Self.isUTF8(content) else { return }
        throw Failure(index: stringStart, problem: "the string is not UTF-8")
    }

    /// Whether `bytes` is well-formed UTF-8: no stray continuation bytes, overlong forms,
    /// surrogates or code points past U+10FFFF. ASCII, the common case, costs one compare a byte.
    static func isUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            // The length of the sequence, and the range its second byte must be in.
            var length = 4
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF:
                length = 2
            case 0xE0:
                length = 3
                low = 0xA0
            case 0xED:
                length = 3
                high = 0x9F
            case 0xE1...0xEF:
                length = 3
            case 0xF0:
                low = 0x90
            case 0xF4:
                high = 0x8F
            case 0xF1...0xF3:
                break
            default:
                return false
            }
            guard index + length <= bytes.count, (low...high).contains(bytes[index + 1]) else { return false }
            for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 { return false }
            index += length
        }
        return true
    }
}
