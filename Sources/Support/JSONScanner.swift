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

        /// The bytes between the quotes of a key without escapes (its text is exactly those
        /// bytes); nil for a key with escapes. Valid only as long as the scanner's bytes: for
        /// writers that copy keys through unchanged (the trigger answers).
        public var plainBytes: UnsafeRawBufferPointer? { unescaped == nil ? raw : nil }

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
    let strings: Strings

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

    mutating func unexpected(_ expectation: String) -> Failure {
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
}
