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
    var buffer: [UInt8] = []
    var position = 0
    private var origin = BufferOrigin()
    private var finished = false
    /// Where the JSON walk stands between calls to `next`, outside any user object.
    var frames: [Frame] = []
    var csvColumns: CSVColumns?
    var csvLine = 0

    public init(path: String, format: Format? = nil) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure.unreadable(path) }
        self.handle = handle
        self.path = path
        self.format = Self.format(of: path, given: format)
    }

    /// How a file is read: as `given`, else by its name (`.csv`: CSV, anything else JSON).
    public static func format(of path: String, given: Format?) -> Format {
        given ?? (path.lowercased().hasSuffix(".csv") ? .csv : .json)
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
    func refill() throws -> Bool {
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
    func peek() throws -> UInt8? {
        if position < buffer.count { return buffer[position] }
        guard try refill() else { return nil }
        return buffer[position]
    }

    var here: Location { location(of: position) }

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
    func scanBuffered<T>(_ subject: String, _ read: (inout JSONScanner) throws -> T) throws -> T {
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

    func malformed(_ subject: String, _ location: Location, _ problem: String) -> Failure {
        .malformed(subject: subject, at: location, problem: problem)
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
