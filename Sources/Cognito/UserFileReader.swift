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

    private let handle: FileHandle
    private let path: String
    public let format: Format
    private var buffer: [UInt8] = []
    private var position = 0
    /// Bytes dropped from the front of `buffer` so far.
    private var consumed = 0
    private var finished = false
    private var line = 1
    private var lineStart = 0
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
    public var bytesRead: Int { consumed + position }

    /// Up to `max` users; an empty array at the end of the file.
    public func next(max: Int = 5_000) throws -> [UserType] {
        switch format {
        case .json: return try nextJSON(max: max)
        case .csv: return try nextCSV(max: max)
        }
    }

    // MARK: Bytes

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
            consumed += position
            buffer.removeFirst(position)
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

    private var here: Location {
        let offset = consumed + position
        return Location(offset: offset, line: line, column: offset - lineStart + 1)
    }

    private func newline() {
        line += 1
        lineStart = consumed + position
    }

    // MARK: JSON

    /// A container the walk is inside, outside user objects. `first` is true until an element
    /// has been read, so a comma is expected before every later one.
    private enum Frame {
        case object(first: Bool)
        case array(first: Bool)
        case users(first: Bool)
    }

    private static let maxDepth = 256

    private func malformed(_ subject: String, _ location: Location, _ problem: String) -> Failure {
        .malformed(subject: subject, at: location, problem: problem)
    }

    /// Names a byte in a message: the character when printable, else its hex value.
    private static func describe(_ byte: UInt8?) -> String {
        guard let byte else { return "the end of the file" }
        if (0x21...0x7E).contains(byte) { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x\(String(byte, radix: 16, uppercase: true))"
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
        if consumed + position == 0 { try skipByteOrderMark() }
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
            try skipValue(subject, depth: frames.count)
        }
    }

    private func enter(_ frame: Frame) throws {
        guard frames.count < Self.maxDepth else {
            throw malformed("list-users JSON", here, "nested more than \(Self.maxDepth) levels deep")
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
            case ASCII.space, ASCII.tab, ASCII.carriageReturn:
                position += 1
            case ASCII.lineFeed:
                position += 1
                newline()
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
        let key = try readString(subject, keep: true)
        let colon = try skipWhitespace()
        guard colon == ASCII.colon else { throw malformed(subject, here, "expected ':' after \"\(key)\", found \(Self.describe(colon))") }
        position += 1
        return key
    }

    /// Calls `member` once per key of the object that starts next, positioned at the value.
    private func readObject(_ subject: String, _ member: (String) throws -> Void) throws {
        guard try skipWhitespace() == ASCII.openBrace else { throw malformed(subject, here, "expected an object") }
        position += 1
        var first = true
        while true {
            if try skipWhitespace() == ASCII.closeBrace {
                position += 1
                return
            }
            if !first { try expectSeparator(closing: ASCII.closeBrace, in: subject) }
            first = false
            try member(try readKey(in: subject))
        }
    }

    /// Calls `element` once per element of the array that starts next, positioned at the element.
    private func readArray(_ subject: String, _ element: () throws -> Void) throws {
        guard try skipWhitespace() == ASCII.openBracket else { throw malformed(subject, here, "expected an array") }
        position += 1
        var first = true
        while true {
            if try skipWhitespace() == ASCII.closeBracket {
                position += 1
                return
            }
            if !first { try expectSeparator(closing: ASCII.closeBracket, in: subject) }
            first = false
            try element()
        }
    }

    private func readUser() throws -> UserType {
        let start = here
        var user = UserType(Username: "")
        var hasUsername = false
        try readObject("user object") { key in
            switch key {
            case "Username":
                if let username = try readOptionalString(key) {
                    user.Username = username
                    hasUsername = true
                }
            case "Attributes", "UserAttributes":
                user.Attributes = try readAttributes(key)
            case "Enabled":
                user.Enabled = try readOptionalBool(key)
            case "UserStatus":
                user.UserStatus = try readOptionalString(key)
            case "UserCreateDate":
                user.UserCreateDate = try readDate(key)
            case "UserLastModifiedDate":
                user.UserLastModifiedDate = try readDate(key)
            default:
                try skipValue(key, depth: frames.count + 1)
            }
        }
        guard hasUsername else { throw malformed("user object", start, "it has no Username") }
        return user
    }

    /// `[{"Name": …, "Value": …}, …]`; a missing or null `Value` is kept as nil.
    private func readAttributes(_ subject: String) throws -> [AttributeType]? {
        if try readNull(subject) { return nil }
        let byte = try skipWhitespace()
        guard byte == ASCII.openBracket else {
            throw malformed(subject, here, "expected an array of {\"Name\", \"Value\"} objects, found \(Self.describe(byte))")
        }
        var attributes: [AttributeType] = []
        try readArray(subject) {
            let start = here
            var name: String?
            var value: String?
            let byte = try skipWhitespace()
            guard byte == ASCII.openBrace else {
                throw malformed(subject, here, "expected a {\"Name\", \"Value\"} object, found \(Self.describe(byte))")
            }
            try readObject(subject) { key in
                switch key {
                case "Name": name = try readOptionalString("\(subject) Name")
                case "Value": value = try readOptionalString("\(subject) Value")
                default: try skipValue(key, depth: frames.count + 3)
                }
            }
            guard let name else { throw malformed(subject, start, "an attribute has no Name") }
            attributes.append(AttributeType(name, value))
        }
        return attributes
    }

    private func readOptionalString(_ subject: String) throws -> String? {
        if try readNull(subject) { return nil }
        let byte = try skipWhitespace()
        guard byte == ASCII.quote else { throw malformed(subject, here, "expected a string, found \(Self.describe(byte))") }
        return try readString(subject, keep: true)
    }

    private func readOptionalBool(_ subject: String) throws -> Bool? {
        let byte = try skipWhitespace()
        guard let byte, ASCII.isLiteralStart(byte) else {
            throw malformed(subject, here, "expected true or false, found \(Self.describe(byte))")
        }
        switch try readLiteral(subject) {
        case "true": return true
        case "false": return false
        default: return nil
        }
    }

    /// Epoch seconds (AWS CLI v1, the API) or an RFC 3339 string (AWS CLI v2, SDK dumps).
    private func readDate(_ subject: String) throws -> Date? {
        let byte = try skipWhitespace()
        let start = here
        if try readNull(subject) { return nil }
        switch byte ?? 0 {
        case ASCII.quote:
            let text = try readString(subject, keep: true)
            guard let date = RFC3339.parse(text) else {
                let shown = text.count > 40 ? String(text.prefix(40)) + "…" : text
                throw malformed(subject, start, "'\(shown)' is not a date (expected e.g. 2026-11-20T10:11:12.345000+00:00)")
            }
            return date
        case ASCII.minus, ASCII.zero...ASCII.nine:
            return Date(timeIntervalSince1970: try readNumber(subject))
        default:
            throw malformed(subject, start, "expected a number or a date string, found \(Self.describe(byte))")
        }
    }

    /// Consumes `null` if it comes next.
    private func readNull(_ subject: String) throws -> Bool {
        guard try skipWhitespace() == UInt8(ascii: "n") else { return false }
        let start = here
        guard try readLiteral(subject) == "null" else { throw malformed(subject, start, "expected a value") }
        return true
    }

    /// A bare word (`true`, `false`, `null`); anything else is an error.
    private func readLiteral(_ subject: String) throws -> String {
        let start = here
        var word: [UInt8] = []
        while let byte = try peek(), (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte), word.count < 5 {
            word.append(byte)
            position += 1
        }
        let text = String(decoding: word, as: UTF8.self)
        guard ["true", "false", "null"].contains(text) else { throw malformed(subject, start, "expected a value") }
        return text
    }

    private func readNumber(_ subject: String) throws -> Double {
        let start = here
        var text: [UInt8] = []
        while let byte = try peek(), ASCII.isNumberByte(byte), text.count < 64 {
            text.append(byte)
            position += 1
        }
        guard let value = Double(String(decoding: text, as: UTF8.self)) else { throw malformed(subject, start, "expected a number") }
        return value
    }

    /// Reads the string whose opening quote comes next. With `keep` false the text is only
    /// stepped over (unknown fields), and "" is returned.
    private func readString(_ subject: String, keep: Bool) throws -> String {
        let start = here
        position += 1
        var bytes: [UInt8] = []
        while true {
            // Copy the run of plain bytes in the buffer at once; stop at a quote, backslash or newline.
            var end = position
            while end < buffer.count {
                let byte = buffer[end]
                if byte == ASCII.quote || byte == ASCII.backslash || byte == ASCII.lineFeed { break }
                end += 1
            }
            if keep, end > position { bytes.append(contentsOf: buffer[position..<end]) }
            position = end
            guard let byte = try peek() else { throw malformed(subject, start, "the string never ends") }
            position += 1
            switch byte {
            case ASCII.quote:
                return keep ? String(decoding: bytes, as: UTF8.self) : ""
            case ASCII.backslash:
                try readEscape(subject, into: &bytes)
            default:  // a raw newline: not valid JSON, but harmless inside a value
                newline()
                if keep { bytes.append(byte) }
            }
        }
    }

    private func readEscape(_ subject: String, into bytes: inout [UInt8]) throws {
        let start = here
        guard let byte = try peek() else { throw malformed(subject, start, "the string never ends") }
        position += 1
        switch byte {
        case ASCII.quote, ASCII.backslash, UInt8(ascii: "/"): bytes.append(byte)
        case UInt8(ascii: "b"): bytes.append(0x08)
        case UInt8(ascii: "f"): bytes.append(0x0C)
        case UInt8(ascii: "n"): bytes.append(0x0A)
        case UInt8(ascii: "r"): bytes.append(0x0D)
        case UInt8(ascii: "t"): bytes.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try readHex4(subject)
            if (0xD800..<0xDC00).contains(scalar) {
                // A high surrogate is only meaningful with the low one that follows it.
                if try peek() == ASCII.backslash {
                    position += 1
                    guard try peek() == UInt8(ascii: "u") else { throw malformed(subject, here, "expected \\u after a high surrogate") }
                    position += 1
                    let low = try readHex4(subject)
                    scalar = (0xDC00..<0xE000).contains(low) ? 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00) : 0xFFFD
                } else {
                    scalar = 0xFFFD
                }
            }
            UTF8.encode(Unicode.Scalar(scalar) ?? "\u{FFFD}") { bytes.append($0) }
        default:
            throw malformed(subject, start, "\\\(Self.describe(byte)) is not a JSON escape")
        }
    }

    private func readHex4(_ subject: String) throws -> UInt32 {
        let start = here
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let byte = try peek(), let digit = ASCII.hexValue(byte) else {
                throw malformed(subject, start, "expected 4 hex digits after \\u")
            }
            position += 1
            value = value << 4 | digit
        }
        return value
    }

    /// Steps over any JSON value (fields StableID does not read), however nested.
    private func skipValue(_ subject: String, depth: Int) throws {
        guard depth < Self.maxDepth else { throw malformed(subject, here, "nested more than \(Self.maxDepth) levels deep") }
        guard let byte = try skipWhitespace() else { throw malformed(subject, here, "the file ends where a value should be") }
        switch byte {
        case ASCII.openBrace:
            try readObject(subject) { key in try skipValue(key, depth: depth + 1) }
        case ASCII.openBracket:
            try readArray(subject) { try skipValue(subject, depth: depth + 1) }
        case ASCII.quote:
            _ = try readString(subject, keep: false)
        case ASCII.minus, ASCII.zero...ASCII.nine:
            _ = try readNumber(subject)
        case _ where ASCII.isLiteralStart(byte):
            _ = try readLiteral(subject)
        default:
            throw malformed(subject, here, "expected a value, found \(Self.describe(byte))")
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

/// The bytes JSON and CSV are made of, by name.
private enum ASCII {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let minus = UInt8(ascii: "-")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let carriageReturn = UInt8(ascii: "\r")
    static let lineFeed = UInt8(ascii: "\n")

    static func isNumberByte(_ byte: UInt8) -> Bool {
        (zero...nine).contains(byte) || byte == minus || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E")
    }

    static func isLiteralStart(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: "t") || byte == UInt8(ascii: "f") || byte == UInt8(ascii: "n")
    }

    static func hexValue(_ byte: UInt8) -> UInt32? {
        switch byte {
        case zero...nine: return UInt32(byte - zero)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return UInt32(byte - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return UInt32(byte - UInt8(ascii: "A") + 10)
        default: return nil
        }
    }
}
