/// A cursor over JSON text in memory, for the two places where `JSONSerialization` and the
/// byte-at-a-time reader cost too much: users in `list-users` files and batch lookup bodies.
///
/// It reads through the buffer's pointer with a plain integer index: no class property per byte,
/// no Array bounds checks, and no allocation but the Strings it returns. It does not own the
/// bytes, so make it inside `withUnsafeBytes` (`withUnsafeReadableBytes` for a `ByteBuffer`) and
/// let it, and every ``Key`` it hands out, go before that closure returns.
///
/// Every read and skip steps over whitespace first. A ``Failure`` carries the index of the byte
/// where it happened and a short problem, so each caller can turn it into its own error: a place
/// in a file, a 400.
///
/// Not `Sendable`: it points into memory that someone else owns for the length of a closure.
public struct JSONScanner {
    /// How deep ``skipValue(depth:)`` lets containers nest, so a hostile document cannot exhaust
    /// the stack.
    public static let maxDepth = 256

    /// What a string may contain.
    public enum Strings: Sendable {
        /// RFC 8259, as `JSONSerialization` reads it: control bytes must be escaped, the text must
        /// be UTF-8, and a `\u` surrogate must come with its other half.
        case strict
        /// As files exported by hand turn up: a raw control byte (a newline pasted into a value)
        /// is kept, bytes that are not UTF-8 and a lone surrogate become U+FFFD.
        case tolerant
    }

    /// Where reading stopped and why; callers turn it into their own errors.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        /// The index of the byte where the problem is (for an unterminated string, its opening quote).
        public var index: Int
        public var problem: String

        public init(index: Int, problem: String) {
            self.index = index
            self.problem = problem
        }

        public var description: String { "\(problem) (byte \(index))" }
    }

    /// An object key, compared without making a String: keys without escapes stay the bytes
    /// between their quotes, so `switch key { case "sub": … }` is a length check and a few byte
    /// compares. Valid only as long as the scanner's bytes.
    public struct Key {
        private let raw: UnsafeRawBufferPointer
        /// The decoded text, for a key that has escapes (and so cannot be compared byte for byte).
        private let unescaped: String?

        fileprivate init(raw: UnsafeRawBufferPointer) {
            self.raw = raw
            self.unescaped = nil
        }

        fileprivate init(unescaped: String) {
            self.raw = UnsafeRawBufferPointer(start: nil, count: 0)
            self.unescaped = unescaped
        }

        /// The key as a String, for messages and keys a caller does not know.
        public var text: String { unescaped ?? String(decoding: raw, as: UTF8.self) }

        public func matches(_ name: StaticString) -> Bool {
            name.withUTF8Buffer { expected in
                if let unescaped { return unescaped.utf8.elementsEqual(expected) }
                guard raw.count == expected.count else { return false }
                for offset in 0..<expected.count where raw[offset] != expected[offset] { return false }
                return true
            }
        }

        public static func ~= (name: StaticString, key: Key) -> Bool { key.matches(name) }
        public static func == (key: Key, name: StaticString) -> Bool { key.matches(name) }
    }

    public let bytes: UnsafeRawBufferPointer
    /// The next byte to read; public so callers can place their own errors and resume after a value.
    public var index: Int
    private let strings: Strings

    public init(_ bytes: UnsafeRawBufferPointer, index: Int = 0, strings: Strings = .strict) {
        self.bytes = bytes
        self.index = index
        self.strings = strings
    }

    // MARK: Tokens

    /// Steps over JSON whitespace (space, tab, CR, LF) and returns the next byte without consuming
    /// it; nil at the end.
    public mutating func skipWhitespace() -> UInt8? {
        while index < bytes.count {
            switch bytes[index] {
            case JSONByte.space, JSONByte.tab, JSONByte.lineFeed, JSONByte.carriageReturn:
                index += 1
            case let byte:
                return byte
            }
        }
        return nil
    }

    /// Steps over `byte` when it comes next (after whitespace); false, and nothing consumed but
    /// whitespace, otherwise.
    public mutating func consume(_ byte: UInt8) -> Bool {
        guard skipWhitespace() == byte else { return false }
        index += 1
        return true
    }

    /// Inside an object, after `{` or a member's value: reads the next key and the `:` after it,
    /// or consumes the `}` and returns nil. `first` says whether a member has been read yet, so
    /// the `,` before every later one is required.
    public mutating func nextKey(first: Bool) throws(Failure) -> Key? {
        let byte = skipWhitespace()
        if byte == JSONByte.closeBrace {
            index += 1
            return nil
        }
        if !first {
            guard byte == JSONByte.comma else { throw unexpected("',' or '}'") }
            index += 1
        }
        return try readKey()
    }

    /// Inside an array, after `[` or an element: true (the `,` consumed) when another element
    /// follows, false (the `]` consumed) at the end. `first` as in ``nextKey(first:)``.
    public mutating func nextElement(first: Bool) throws(Failure) -> Bool {
        let byte = skipWhitespace()
        if byte == JSONByte.closeBracket {
            index += 1
            return false
        }
        if !first {
            guard byte == JSONByte.comma else { throw unexpected("',' or ']'") }
            index += 1
        }
        return true
    }

    /// Reads `"key":`, leaving the scanner at the value.
    public mutating func readKey() throws(Failure) -> Key {
        guard skipWhitespace() == JSONByte.quote else { throw unexpected("a quoted key") }
        let start = index
        index += 1
        skipPlainBytes()
        let key: Key
        if index < bytes.count, bytes[index] == JSONByte.quote {
            let raw = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<index])
            try checkEncoding(raw, stringStart: start)
            index += 1
            key = Key(raw: raw)
        } else {
            index = start
            key = Key(unescaped: try readString())
        }
        guard consume(JSONByte.colon) else { throw unexpected("':' after \"\(key.text)\"") }
        return key
    }

    // MARK: Values

    /// Reads the string that comes next. A run without escapes is copied into the String in one
    /// go; escapes (`\uXXXX` and surrogate pairs too) are decoded on a slower path.
    public mutating func readString() throws(Failure) -> String {
        let start = try openString()
        skipPlainBytes()
        if index < bytes.count, bytes[index] == JSONByte.quote {
            let content = UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<index])
            try checkEncoding(content, stringStart: start)
            index += 1
            return String(decoding: content, as: UTF8.self)
        }
        var utf8: [UInt8] = []
        utf8.reserveCapacity(2 * (index - start) + 16)
        try finishString(openedAt: start, into: &utf8, keeping: true)
        return String(decoding: utf8, as: UTF8.self)
    }

    /// Steps over the string that comes next, checking it as ``readString()`` would.
    public mutating func skipString() throws(Failure) {
        let start = try openString()
        skipPlainBytes()
        if index < bytes.count, bytes[index] == JSONByte.quote {
            try checkEncoding(UnsafeRawBufferPointer(rebasing: bytes[(start + 1)..<index]), stringStart: start)
            index += 1
            return
        }
        var unused: [UInt8] = []
        try finishString(openedAt: start, into: &unused, keeping: false)
    }

    /// `true`, `false` or `null` (nil).
    public mutating func readLiteral() throws(Failure) -> Bool? {
        _ = skipWhitespace()
        if startsWith("true") {
            index += 4
            return true
        }
        if startsWith("false") {
            index += 5
            return false
        }
        if startsWith("null") {
            index += 4
            return nil
        }
        throw unexpected("true, false or null")
    }

    /// A number as RFC 8259 spells it (no leading zeros, no `+`, digits on both sides of `.`).
    public mutating func readNumber() throws(Failure) -> Double {
        _ = skipWhitespace()
        let start = index
        try skipNumber()
        // At most a few dozen bytes, so the String is usually a small one held inline.
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else {
            index = start
            throw Failure(index: start, problem: "expected a number")
        }
        return value
    }

    /// Steps over any value, checking its syntax throughout. `depth` is how many containers are
    /// already open around it, so the limit counts the whole document.
    public mutating func skipValue(depth: Int = 0) throws(Failure) {
        guard let byte = skipWhitespace() else {
            throw Failure(index: index, problem: "the input ends where a value should be")
        }
        switch byte {
        case JSONByte.openBrace:
            try enterContainer(depth: depth)
            var first = true
            while try nextKey(first: first) != nil {
                first = false
                try skipValue(depth: depth + 1)
            }
        case JSONByte.openBracket:
            try enterContainer(depth: depth)
            var first = true
            while try nextElement(first: first) {
                first = false
                try skipValue(depth: depth + 1)
            }
        case JSONByte.quote:
            try skipString()
        case JSONByte.minus, JSONByte.zero...JSONByte.nine:
            try skipNumber()
        case UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            _ = try readLiteral()
        default:
            throw unexpected("a value")
        }
    }

    /// Names a byte in a message: the character when it is printable ASCII, else its hex value.
    public static func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the input" }
        if (0x21...0x7E).contains(byte) { return "'\(Character(Unicode.Scalar(byte)))'" }
        var digits: [UInt8] = []
        Hex.appendEncoded(byte, to: &digits, uppercase: true)
        return "byte 0x\(String(decoding: digits, as: UTF8.self))"
    }

    // MARK: Inside

    private mutating func unexpected(_ expectation: String) -> Failure {
        let byte = skipWhitespace()
        return Failure(index: index, problem: "expected \(expectation), found \(Self.describe(byte))")
    }

    private mutating func enterContainer(depth: Int) throws(Failure) {
        guard depth < Self.maxDepth else {
            throw Failure(index: index, problem: "nested more than \(Self.maxDepth) levels deep")
        }
        index += 1
    }

    private func startsWith(_ word: StaticString) -> Bool {
        word.withUTF8Buffer { utf8 in
            guard index + utf8.count <= bytes.count else { return false }
            for offset in 0..<utf8.count where bytes[index + offset] != utf8[offset] { return false }
            return true
        }
    }

    private mutating func skipNumber() throws(Failure) {
        let start = index
        func digits() throws(Failure) {
            guard index < bytes.count, Self.isDigit(bytes[index]) else {
                throw Failure(index: start, problem: "expected a number")
            }
            while index < bytes.count, Self.isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == JSONByte.minus { index += 1 }
        if index < bytes.count, bytes[index] == JSONByte.zero {
            index += 1
        } else {
            try digits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            try digits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == JSONByte.minus { index += 1 }
            try digits()
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte &- JSONByte.zero < 10 }

    /// Consumes the opening quote of the string that must come next; returns its index.
    private mutating func openString() throws(Failure) -> Int {
        guard skipWhitespace() == JSONByte.quote else { throw unexpected("a string") }
        index += 1
        return index - 1
    }

    /// Moves to the next byte a string cannot copy as it is: its closing quote, a backslash, a
    /// control byte, or the end of the input. The hot loop of every string.
    private mutating func skipPlainBytes() {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == JSONByte.quote || byte == JSONByte.backslash || byte < 0x20 { return }
            index += 1
        }
    }

    /// The rest of a string whose plain start ran into an escape or a control byte: decodes it
    /// into `utf8` when `keeping` (else only checks it) and consumes the closing quote.
    private mutating func finishString(openedAt start: Int, into utf8: inout [UInt8], keeping: Bool) throws(Failure) {
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
    private mutating func readEscape(into utf8: inout [UInt8], keeping: Bool, stringStart: Int) throws(Failure) {
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
    private mutating func readUnicodeEscape(at escape: Int) throws(Failure) -> UInt32 {
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

    private func hexQuad(at offset: Int) -> UInt32? {
        guard offset + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for position in offset..<(offset + 4) {
            guard let digit = Hex.nibble(bytes[position]) else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }

    private static func appendUTF8(_ scalar: UInt32, to utf8: inout [UInt8]) {
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

    private func checkEncoding(_ content: UnsafeRawBufferPointer, stringStart: Int) throws(Failure) {
        guard strings == .strict, !Self.isUTF8(content) else { return }
        throw Failure(index: stringStart, problem: "the string is not UTF-8")
    }

    /// Whether `bytes` is well-formed UTF-8: no stray continuation bytes, overlong forms,
    /// surrogates or code points past U+10FFFF. ASCII, the common case, costs one compare a byte.
    private static func isUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
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

/// The bytes JSON's grammar is made of, by name (shared with the file reader's page walk).
public enum JSONByte {
    public static let quote = UInt8(ascii: "\"")
    public static let backslash = UInt8(ascii: "\\")
    public static let openBrace = UInt8(ascii: "{")
    public static let closeBrace = UInt8(ascii: "}")
    public static let openBracket = UInt8(ascii: "[")
    public static let closeBracket = UInt8(ascii: "]")
    public static let comma = UInt8(ascii: ",")
    public static let colon = UInt8(ascii: ":")
    public static let minus = UInt8(ascii: "-")
    public static let zero = UInt8(ascii: "0")
    public static let nine = UInt8(ascii: "9")
    public static let space = UInt8(ascii: " ")
    public static let tab = UInt8(ascii: "\t")
    public static let lineFeed = UInt8(ascii: "\n")
    public static let carriageReturn = UInt8(ascii: "\r")
}
