import Foundation
import Support

/// Reads users from files exported from Cognito, in chunks, without holding the file in memory.
///
/// - JSON: what `aws cognito-idp list-users` prints — `{"Users": [...]}` — one page or many
///   (concatenated documents, or an array of pages). The bytes are parsed as they stream past, a
///   user at a time, so memory stays flat as the file grows. Timestamps may be epoch seconds
///   (AWS CLI v1, the API itself) or RFC 3339 strings with `T` or a space (AWS CLI v2's default,
///   SDK dumps); fields may come in any order, and fields StableID does not use are skipped.
/// - CSV: a header row naming at least `sub` and `cognito:username` (or `username`); optional
///   `email`, `email_verified`, `enabled`, `status`, `identities` (the JSON of the `identities`
///   attribute) and `custom:*` columns.
///
/// Errors name what is wrong and where: a byte offset (counted from 0), line and column.
///
/// The page structure around the users is rare and walked a byte at a time. Each user object is
/// first gathered whole into the buffer and then read by `UserObjectParser` over the buffer's
/// pointer: that is where a multi-gigabyte file spends its time. Lines are not counted as bytes
/// go by; a `Location` is worked out only when an error needs one (see `BufferOrigin`).
public final class UserFileReader {
    public enum Format: String, Sendable {
        case json, csv
    }

    /// A place in the file, for error messages an operator can act on.
    public struct Location: Sendable, Equatable, CustomStringConvertible {
        public var offset: Int
        public var line: Int
        public var column: Int

        public init(offset: Int, line: Int, column: Int) {
            self.offset = offset
            self.line = line
            self.column = column
        }

        public var description: String { "byte \(offset) (line \(line), column \(column))" }
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case unreadable(String)
        /// `subject` is the field (`UserCreateDate`), `user object`, or `list-users JSON` for the
        /// document's structure.
        case malformed(subject: String, at: Location, problem: String)
        case csvHeader(String)
        case csvRow(line: Int, reason: String)

        public var description: String {
            switch self {
            case .unreadable(let path): return "cannot read \(path)"
            case .malformed(let subject, let location, let problem): return "\(subject) at \(location): \(problem)"
            case .csvHeader(let reason): return "CSV header: \(reason)"
            case .csvRow(let line, let reason): return "CSV line \(line): \(reason)"
            }
        }
    }

    /// Where `buffer[0]` sits in the file. Lines are counted in the bytes dropped from the buffer
    /// (one tight loop per refill) and, when an error needs a `Location`, in the buffer up to the
    /// error — never byte by byte as the JSON is read.
    private struct BufferOrigin {
        /// The file offset of `buffer[0]`.
        var offset = 0
        /// The line `buffer[0]` is on, from 1.
        var line = 1
        /// The file offset where that line starts.
        var lineStart = 0

        mutating func advance(over bytes: UnsafeRawBufferPointer) {
            for index in 0..<bytes.count where bytes[index] == ASCII.lineFeed {
                line += 1
                lineStart = offset + index + 1
            }
            offset += bytes.count
        }

        /// The place of `buffer[index]`.
        func location(of index: Int, in buffer: UnsafeRawBufferPointer) -> Location {
            var there = self
            there.advance(over: UnsafeRawBufferPointer(rebasing: buffer[0..<index]))
            return Location(offset: there.offset, line: there.line, column: there.offset - there.lineStart + 1)
        }
    }

    private let handle: FileHandle
    private let path: String
    public let format: Format
    private var buffer: [UInt8] = []
    private var position = 0
    private var origin = BufferOrigin()
    private var finished = false
    /// Where the JSON walk stands between calls to `next`, outside any user object.
    private var frames: [Frame] = []
    private var csvColumns: CSVColumns?
    private var csvLine = 0

    public init(path: String, format: Format? = nil) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure.unreadable(path) }
        self.handle = handle
        self.path = path
        self.format = format ?? (path.lowercased().hasSuffix(".csv") ? .csv : .json)
    }

    deinit {
        try? handle.close()
    }

    /// Total bytes read so far (for progress).
    public var bytesRead: Int { origin.offset + position }

    /// Up to `max` users; an empty array at the end of the file.
    public func next(max: Int = 5_000) throws -> [UserType] {
        switch format {
        case .json: return try nextJSON(max: max)
        case .csv: return try nextCSV(max: max)
        }
    }

    // MARK: Bytes

    /// Reads the next 64 KiB onto the end of `buffer`, first dropping the bytes before `position`
    /// (never a byte at or after it); false at the end of the file.
    private func refill() throws -> Bool {
        guard !finished else { return false }
        let data: Data?
        do {
            data = try handle.read(upToCount: 1 << 16)
        } catch {
            throw Failure.unreadable(path)
        }
        guard let data, !data.isEmpty else {
            finished = true
            return false
        }
        if position > 0 {
            let dropped = position
            var origin = self.origin
            buffer.withUnsafeBytes { origin.advance(over: UnsafeRawBufferPointer(rebasing: $0[0..<dropped])) }
            self.origin = origin
            buffer.removeFirst(dropped)
            position = 0
        }
        buffer.append(contentsOf: data)
        return true
    }

    /// The next byte without consuming it; nil at the end of the file.
    @inline(__always)
    private func peek() throws -> UInt8? {
        if position < buffer.count { return buffer[position] }
        guard try refill() else { return nil }
        return buffer[position]
    }

    private var here: Location { location(of: position) }

    /// The place of `buffer[index]`, counted now: only errors ask.
    private func location(of index: Int) -> Location {
        let origin = self.origin
        return buffer.withUnsafeBytes { origin.location(of: index, in: $0) }
    }

    // MARK: Whole values

    /// The largest JSON value (a user object, a key, a skipped value outside users) gathered into
    /// the buffer: a broken file — a string that never closes — must not take all the memory.
    private static let maxValueBytes = 16 << 20

    /// Makes sure all of the JSON value that starts at `position` is in `buffer`, reading on
    /// (and dropping only bytes before `position`) until the value ends or the file does.
    private func bufferValue(_ subject: String) throws {
        var search = ValueEndSearch()
        var scanned = position
        while true {
            let end = buffer.withUnsafeBytes { search.end(in: $0, from: scanned) }
            if end != nil { return }
            guard buffer.count - position < Self.maxValueBytes else {
                throw malformed(subject, here, "larger than \(Self.maxValueBytes >> 20) MiB")
            }
            scanned = buffer.count
            let dropped = position
            // At the end of the file the value is cut short; reading it says where.
            guard try refill() else { return }
            scanned -= dropped - position
        }
    }

    /// Gathers the value at `position` into the buffer, reads it with `read` over the buffer's
    /// bytes in one go, and moves past it. Failures become `malformed` at their place in the file,
    /// named `subject` unless they name their own field.
    private func scanBuffered<T>(_ subject: String, _ read: (inout JSONScanner) throws -> T) throws -> T {
        try bufferValue(subject)
        let start = position
        do {
            let (value, end) = try buffer.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) throws -> (T, Int) in
                var scanner = JSONScanner(bytes, index: start, strings: .tolerant)
                let value = try read(&scanner)
                return (value, scanner.index)
            }
            position = end
            return value
        } catch let failure as JSONScanner.Failure {
            throw malformed(subject, at: failure.index, failure.problem)
        } catch let failure as UserObjectParser.Failure {
            throw malformed(failure.subject, at: failure.index, failure.problem)
        }
    }

    /// A failure at `buffer[index]`. One at the very end of a finished file means the file was
    /// cut short, and says so, as the byte-at-a-time walk does.
    private func malformed(_ subject: String, at index: Int, _ problem: String) -> Failure {
        let truncated = finished && index >= buffer.count
        return malformed(subject, location(of: index), truncated ? "the file ends before the JSON does" : problem)
    }

    // MARK: JSON

    /// A container the walk is inside, outside user objects. `first` is true until an element
    /// has been read, so a comma is expected before every later one.
    private enum Frame {
        case object(first: Bool)
        case array(first: Bool)
        case users(first: Bool)
    }

    private func malformed(_ subject: String, _ location: Location, _ problem: String) -> Failure {
        .malformed(subject: subject, at: location, problem: problem)
    }

    /// Names a byte in a message: the character when printable, else its hex value.
    private static func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the file" }
        return JSONScanner.describe(byte)
    }

    private func nextJSON(max: Int) throws -> [UserType] {
        var users: [UserType] = []
        while users.count < max, let user = try nextJSONUser() {
            users.append(user)
        }
        return users
    }

    /// Walks the page structure to the next element of a `Users` array and reads it; nil at the end.
    private func nextJSONUser() throws -> UserType? {
        if bytesRead == 0 { try skipByteOrderMark() }
        while true {
            let next = try skipWhitespace()
            guard let top = frames.last else {
                // Between documents: another page, an array of pages, or the end.
                guard let byte = next else { return nil }
                guard byte == ASCII.openBrace || byte == ASCII.openBracket else {
                    throw malformed(
                        "list-users JSON", here, "expected a page ({\"Users\": [...]}) or an array of pages, found \(Self.describe(byte))"
                    )
                }
                try enter(byte == ASCII.openBrace ? .object(first: true) : .array(first: true))
                continue
            }
            guard let byte = next else { throw malformed("list-users JSON", here, "the file ends before the JSON does") }
            switch top {
            case .object(let first):
                if byte == ASCII.closeBrace {
                    position += 1
                    frames.removeLast()
                    continue
                }
                if !first { try expectSeparator(closing: ASCII.closeBrace, in: "list-users JSON") }
                frames[frames.count - 1] = .object(first: false)
                let key = try readKey(in: "list-users JSON")
                let valueStart = try skipWhitespace()
                if key == "Users" {
                    guard valueStart == ASCII.openBracket else {
                        throw malformed("Users", here, "expected an array of users, found \(Self.describe(valueStart))")
                    }
                    try enter(.users(first: true))
                } else {
                    try enterOrSkip(valueStart, subject: key)
                }
            case .array(let first):
                if byte == ASCII.closeBracket {
                    position += 1
                    frames.removeLast()
                    continue
                }
                if !first { try expectSeparator(closing: ASCII.closeBracket, in: "list-users JSON") }
                frames[frames.count - 1] = .array(first: false)
                try enterOrSkip(try skipWhitespace(), subject: "list-users JSON")
            case .users(let first):
                if byte == ASCII.closeBracket {
                    position += 1
                    frames.removeLast()
                    continue
                }
                if !first { try expectSeparator(closing: ASCII.closeBracket, in: "Users") }
                frames[frames.count - 1] = .users(first: false)
                let start = try skipWhitespace()
                guard start == ASCII.openBrace else {
                    throw malformed("Users", here, "expected a user object, found \(Self.describe(start))")
                }
                return try readUser()
            }
        }
    }

    /// Pages may sit anywhere (an array of pages, a wrapper object): containers outside user
    /// objects are walked into, looking for `Users`; anything else is skipped.
    private func enterOrSkip(_ byte: UInt8?, subject: String) throws {
        if byte == ASCII.openBrace {
            try enter(.object(first: true))
        } else if byte == ASCII.openBracket {
            try enter(.array(first: true))
        } else {
            let depth = frames.count
            try scanBuffered(subject) { scanner in try scanner.skipValue(depth: depth) }
        }
    }

    private func enter(_ frame: Frame) throws {
        guard frames.count < JSONScanner.maxDepth else {
            throw malformed("list-users JSON", here, "nested more than \(JSONScanner.maxDepth) levels deep")
        }
        position += 1
        frames.append(frame)
    }

    private func skipByteOrderMark() throws {
        guard try peek() == 0xEF else { return }
        while buffer.count < 3, try refill() {}
        if buffer.starts(with: [0xEF, 0xBB, 0xBF]) { position = 3 }
    }

    /// Skips JSON whitespace and returns the next byte, unconsumed; nil at the end of the file.
    private func skipWhitespace() throws -> UInt8? {
        while let byte = try peek() {
            switch byte {
            case ASCII.space, ASCII.tab, ASCII.carriageReturn, ASCII.lineFeed:
                position += 1
            default:
                return byte
            }
        }
        return nil
    }

    /// Consumes the `,` between elements; anything else but the closing bracket is an error.
    private func expectSeparator(closing: UInt8, in subject: String) throws {
        let byte = try skipWhitespace()
        guard byte == ASCII.comma else {
            throw malformed(subject, here, "expected ',' or '\(Character(Unicode.Scalar(closing)))', found \(Self.describe(byte))")
        }
        position += 1
    }

    /// Reads `"key":` and leaves the walk at the value.
    private func readKey(in subject: String) throws -> String {
        let byte = try skipWhitespace()
        guard byte == ASCII.quote else { throw malformed(subject, here, "expected a quoted key, found \(Self.describe(byte))") }
        let key = try scanBuffered(subject) { scanner in try scanner.readString() }
        let colon = try skipWhitespace()
        guard colon == ASCII.colon else { throw malformed(subject, here, "expected ':' after \"\(key)\", found \(Self.describe(colon))") }
        position += 1
        return key
    }

    /// The user object whose `{` is at `position`, read whole from the buffer.
    private func readUser() throws -> UserType {
        let depth = frames.count
        return try scanBuffered("user object") { scanner in
            var parser = UserObjectParser(scanner, depth: depth)
            let user = try parser.parse()
            scanner = parser.scanner
            return user
        }
    }

    // MARK: CSV

    /// Header positions: the known columns by lower-cased name, `custom:*` with their own spelling
    /// (Cognito attribute names are case-sensitive).
    private struct CSVColumns {
        var known: [String: Int]
        var custom: [(name: String, index: Int)]
    }

    private func readLine() throws -> [UInt8]? {
        // A quoted field may contain newlines: a line ends at a newline outside quotes.
        var row: [UInt8] = []
        var inQuotes = false
        while true {
            guard let byte = try peek() else {
                return row.isEmpty ? nil : row
            }
            position += 1
            if byte == ASCII.quote { inQuotes.toggle() }
            if byte == ASCII.lineFeed, !inQuotes {
                if row.last == ASCII.carriageReturn { row.removeLast() }
                return row
            }
            row.append(byte)
        }
    }

    static func fields(_ line: [UInt8]) -> [String] {
        var fields: [String] = []
        var current: [UInt8] = []
        var inQuotes = false
        var index = 0
        while index < line.count {
            let byte = line[index]
            if inQuotes {
                if byte == ASCII.quote {
                    if index + 1 < line.count, line[index + 1] == ASCII.quote {
                        current.append(byte)
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    current.append(byte)
                }
            } else if byte == ASCII.quote {
                inQuotes = true
            } else if byte == ASCII.comma {
                fields.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            } else {
                current.append(byte)
            }
            index += 1
        }
        fields.append(String(decoding: current, as: UTF8.self))
        return fields
    }

    private func readCSVHeader() throws -> CSVColumns? {
        guard let header = try readLine() else { return nil }
        csvLine = 1
        var known: [String: Int] = [:]
        var custom: [(name: String, index: Int)] = []
        for (index, field) in Self.fields(header).enumerated() {
            let name = field.trimmingCharacters(in: .whitespaces)
            if name.lowercased().hasPrefix("custom:") {
                custom.append((name, index))
            } else {
                known[name.lowercased()] = index
            }
        }
        guard known["sub"] != nil else { throw Failure.csvHeader("needs a sub column") }
        guard known["cognito:username"] != nil || known["username"] != nil else {
            throw Failure.csvHeader("needs a cognito:username (or username) column")
        }
        return CSVColumns(known: known, custom: custom)
    }

    private func nextCSV(max: Int) throws -> [UserType] {
        if csvColumns == nil { csvColumns = try readCSVHeader() }
        guard let columns = csvColumns else { return [] }
        var users: [UserType] = []
        while users.count < max, let row = try readLine() {
            csvLine += 1
            if row.isEmpty { continue }
            let values = Self.fields(row)
            func field(at index: Int?) -> String? {
                guard let index, index < values.count, !values[index].isEmpty else { return nil }
                return values[index]
            }
            func value(_ name: String) -> String? { field(at: columns.known[name]) }
            guard let username = value("cognito:username") ?? value("username") else {
                throw Failure.csvRow(line: csvLine, reason: "no username")
            }
            var attributes: [AttributeType] = []
            for name in ["sub", "email", "email_verified", "identities"] {
                if let text = value(name) { attributes.append(AttributeType(name, text)) }
            }
            for column in columns.custom {
                if let text = field(at: column.index) { attributes.append(AttributeType(column.name, text)) }
            }
            let enabled = value("enabled").map { $0.lowercased() != "false" }
            users.append(UserType(Username: username, Attributes: attributes, Enabled: enabled, UserStatus: value("status")))
        }
        return users
    }
}

/// The bytes JSON and CSV are made of, by name: `Support.JSONByte`, and what the page walk adds.
typealias ASCII = JSONByte

extension JSONByte {
    static func isLiteralStart(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "t") || byte == UInt8(ascii: "f") || byte == UInt8(ascii: "n")
    }

    /// The bytes a number or a bare word (`true`, `1.5e3`) is made of.
    static func isScalarByte(_ byte: UInt8) -> Bool {
        switch byte {
        case zero...nine, UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), minus, UInt8(ascii: "+"),
            UInt8(ascii: "."):
            return true
        default:
            return false
        }
    }
}

/// Finds where a JSON value ends in bytes that arrive in pieces, without parsing it: it follows
/// only strings (and their escapes) and the depth of brackets, so gathering a user object costs
/// one quick pass before the real reading. Malformed JSON is left for the scanner to describe;
/// at worst the search ends early or runs to the end of the file.
private struct ValueEndSearch {
    private var started = false
    private var depth = 0
    private var inString = false
    private var escaped = false
    private var inScalar = false

    /// The index just past the value's last byte, looking at `bytes[start...]`; nil when the
    /// bytes run out first (then call again with more, from where this call stopped).
    mutating func end(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        // The state lives in locals while the loop runs (a million users' bytes go through it)
        // and is stored back for the next call when the bytes run out.
        var (started, depth, inString, escaped, inScalar) = (started, depth, inString, escaped, inScalar)
        defer { (self.started, self.depth, self.inString, self.escaped, self.inScalar) = (started, depth, inString, escaped, inScalar) }
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if inString {
                if escaped {
                    escaped = false
                } else if byte == ASCII.backslash {
                    escaped = true
                } else if byte == ASCII.quote {
                    inString = false
                    if depth == 0 { return index }
                }
                continue
            }
            if inScalar {
                if ASCII.isScalarByte(byte) { continue }
                return index - 1
            }
            guard started else {
                started = true
                switch byte {
                case ASCII.quote: inString = true
                case ASCII.openBrace, ASCII.openBracket: depth = 1
                case _ where ASCII.isScalarByte(byte): inScalar = true
                default: return index - 1  // not a value: the scanner says so
                }
                continue
            }
            switch byte {
            case ASCII.quote:
                inString = true
            case ASCII.openBrace, ASCII.openBracket:
                depth += 1
            case ASCII.closeBrace, ASCII.closeBracket:
                depth -= 1
                if depth == 0 { return index }
            default:
                break
            }
        }
        return nil
    }
}
