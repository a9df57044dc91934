import Foundation

/// Reads users from files exported from Cognito, in chunks, without holding the file in memory.
///
/// - JSON: what `aws cognito-idp list-users` prints — `{"Users": [...]}` — one page or many
///   (concatenated documents, or an array of pages). Each user object is cut out of the byte
///   stream and decoded on its own, so memory stays flat as the file grows.
/// - CSV: a header row naming at least `sub` and `cognito:username` (or `username`); optional
///   `email`, `email_verified`, `enabled`, `identities` (the JSON of the `identities` attribute).
public final class UserFileReader {
    public enum Format: String, Sendable {
        case json, csv
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(String)
        case malformedJSON(offset: Int)
        case badUser(offset: Int)
        case csvHeader(String)
        case csvRow(line: Int, reason: String)

        public var description: String {
            switch self {
            case .unreadable(let path): return "cannot read \(path)"
            case .malformedJSON(let offset): return "the file is not list-users JSON (near byte \(offset))"
            case .badUser(let offset): return "a user object near byte \(offset) is not a Cognito user (needs Username)"
            case .csvHeader(let reason): return "CSV header: \(reason)"
            case .csvRow(let line, let reason): return "CSV line \(line): \(reason)"
            }
        }
    }

    private let handle: FileHandle
    public let format: Format
    private var buffer: [UInt8] = []
    private var position = 0
    private var consumed = 0
    private var finished = false
    private var json = JSONScanner()
    private var csvColumns: [String: Int]?
    private var csvLine = 0

    public init(path: String, format: Format? = nil) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Failure.unreadable(path) }
        self.handle = handle
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

    private func refill() -> Bool {
        guard !finished else { return false }
        let data = handle.readData(ofLength: 1 << 16)
        if data.isEmpty {
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

    // MARK: JSON

    private func nextJSON(max: Int) throws -> [UserType] {
        var users: [UserType] = []
        let decoder = JSONDecoder()
        while users.count < max {
            if position >= buffer.count, !refill() {
                guard json.isBalanced else { throw Failure.malformedJSON(offset: bytesRead) }
                break
            }
            let byte = buffer[position]
            position += 1
            switch json.feed(byte) {
            case .none:
                continue
            case .malformed:
                throw Failure.malformedJSON(offset: bytesRead)
            case .userObject(let bytes):
                do {
                    users.append(try decoder.decode(UserType.self, from: Data(bytes)))
                } catch {
                    throw Failure.badUser(offset: bytesRead)
                }
            }
        }
        return users
    }

    // MARK: CSV

    private func readLine() -> [UInt8]? {
        // A quoted field may contain newlines: a line ends at a newline outside quotes.
        var line: [UInt8] = []
        var inQuotes = false
        while true {
            if position >= buffer.count, !refill() {
                return line.isEmpty ? nil : line
            }
            let byte = buffer[position]
            position += 1
            if byte == UInt8(ascii: "\"") { inQuotes.toggle() }
            if byte == 0x0A, !inQuotes {
                if line.last == 0x0D { line.removeLast() }
                return line
            }
            line.append(byte)
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
                if byte == UInt8(ascii: "\"") {
                    if index + 1 < line.count, line[index + 1] == UInt8(ascii: "\"") {
                        current.append(byte)
                        index += 1
                    } else {
                        inQuotes = false
                    }
                } else {
                    current.append(byte)
                }
            } else if byte == UInt8(ascii: "\"") {
                inQuotes = true
            } else if byte == UInt8(ascii: ",") {
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

    private func nextCSV(max: Int) throws -> [UserType] {
        if csvColumns == nil {
            guard let header = readLine() else { return [] }
            csvLine = 1
            var columns: [String: Int] = [:]
            for (index, name) in Self.fields(header).enumerated() {
                columns[name.trimmingCharacters(in: .whitespaces).lowercased()] = index
            }
            guard columns["sub"] != nil else { throw Failure.csvHeader("needs a sub column") }
            guard columns["cognito:username"] != nil || columns["username"] != nil else {
                throw Failure.csvHeader("needs a cognito:username (or username) column")
            }
            csvColumns = columns
        }
        let columns = csvColumns!
        var users: [UserType] = []
        while users.count < max, let line = readLine() {
            csvLine += 1
            if line.isEmpty { continue }
            let values = Self.fields(line)
            func value(_ name: String) -> String? {
                guard let index = columns[name], index < values.count, !values[index].isEmpty else { return nil }
                return values[index]
            }
            guard let username = value("cognito:username") ?? value("username") else {
                throw Failure.csvRow(line: csvLine, reason: "no username")
            }
            var attributes: [AttributeType] = []
            for name in ["sub", "email", "email_verified", "identities"] {
                if let text = value(name) { attributes.append(AttributeType(name, text)) }
            }
            let enabled = value("enabled").map { $0.lowercased() != "false" }
            users.append(UserType(Username: username, Attributes: attributes, Enabled: enabled, UserStatus: value("status")))
        }
        return users
    }
}

/// A byte-at-a-time JSON tokenizer that hands out every object that is an element of an array
/// under a `Users` key, wherever that array is (one page, many pages, an array of pages).
struct JSONScanner {
    enum Output {
        case none
        case malformed
        case userObject([UInt8])
    }

    private enum Container {
        case object(expectingKey: Bool, lastKey: String?)
        case array(key: String?)
    }

    private var stack: [Container] = []
    private var inString = false
    private var escaped = false
    private var stringBytes: [UInt8] = []
    private var captureDepth: Int?
    private var capture: [UInt8] = []

    var isBalanced: Bool { stack.isEmpty && !inString }

    mutating func feed(_ byte: UInt8) -> Output {
        if captureDepth != nil { capture.append(byte) }
        if inString {
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
            } else if byte == UInt8(ascii: "\"") {
                inString = false
                finishString()
                return .none
            }
            if isExpectingKey { stringBytes.append(byte) }
            return .none
        }
        switch byte {
        case UInt8(ascii: "\""):
            inString = true
            stringBytes.removeAll(keepingCapacity: true)
        case UInt8(ascii: "{"):
            if captureDepth == nil, case .array(let key)? = stack.last, key == "Users" {
                captureDepth = stack.count
                capture = [byte]
            }
            stack.append(.object(expectingKey: true, lastKey: nil))
        case UInt8(ascii: "["):
            stack.append(.array(key: currentKey))
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            guard let top = stack.popLast() else { return .malformed }
            switch (top, byte) {
            case (.object, UInt8(ascii: "}")), (.array, UInt8(ascii: "]")): break
            default: return .malformed
            }
            if let depth = captureDepth, stack.count == depth {
                captureDepth = nil
                defer { capture = [] }
                return .userObject(capture)
            }
        case UInt8(ascii: ","):
            if case .object(_, _)? = stack.last { stack[stack.count - 1] = .object(expectingKey: true, lastKey: nil) }
        case UInt8(ascii: ":"):
            if case .object(_, let key)? = stack.last { stack[stack.count - 1] = .object(expectingKey: false, lastKey: key) }
        default:
            break
        }
        return .none
    }

    private var isExpectingKey: Bool {
        if case .object(let expecting, _)? = stack.last { return expecting }
        return false
    }

    /// The key under which a value opened now sits (nil inside arrays).
    private var currentKey: String? {
        if case .object(_, let key)? = stack.last { return key }
        return nil
    }

    private mutating func finishString() {
        if case .object(true, _)? = stack.last {
            stack[stack.count - 1] = .object(expectingKey: true, lastKey: String(decoding: stringBytes, as: UTF8.self))
        }
    }
}
