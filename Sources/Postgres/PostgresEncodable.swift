public import Foundation
import Support

/// A Swift value that can be sent as a text-format bind parameter.
public protocol PostgresEncodable: Sendable {
    /// The PostgreSQL text representation; `nil` sends SQL `NULL`.
    var postgresText: String? { get }
}

extension String: PostgresEncodable {
    public var postgresText: String? { self }
}

extension Substring: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Double: PostgresEncodable {
    public var postgresText: String? { String(self) }
}

extension Bool: PostgresEncodable {
    public var postgresText: String? { self ? "t" : "f" }
}

extension UUID: PostgresEncodable {
    public var postgresText: String? { uuidString.lowercased() }
}

/// RFC 3339 in UTC with microseconds, which `timestamptz` takes as is and keeps exactly.
extension Date: PostgresEncodable {
    public var postgresText: String? { RFC3339.format(self) }
}

/// `bytea`, sent in hex form.
public struct PostgresBytes: PostgresEncodable, PostgresDecodable, Hashable {
    public var bytes: [UInt8]
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var postgresText: String? { "\\x" + Hex.encode(bytes) }

    public init(postgresText text: String) throws {
        guard text.hasPrefix("\\x"), let bytes = Hex.decode(text.dropFirst(2)) else {
            throw PostgresError(kind: .decoding, message: "bytea is not in hex format")
        }
        self.bytes = bytes
    }
}

/// `json`/`jsonb`, carried as its UTF-8 text so callers choose their own coder.
public struct PostgresJSON: PostgresEncodable, PostgresDecodable, Hashable {
    public var text: String
    public init(text: String) { self.text = text }
    public init(encoding value: some Encodable) throws {
        let data = try JSONEncoder.sortedKeys().encode(value)
        self.text = String(decoding: data, as: UTF8.self)
    }
    public func decode<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(text.utf8))
    }
    public var postgresText: String? { text }
    public init(postgresText text: String) throws { self.text = text }
}

/// A one-dimensional array parameter (`text[]`, `uuid[]`), e.g. for `= ANY($1)` or `unnest($1)`.
public struct PostgresArray<Element: PostgresEncodable>: PostgresEncodable {
    public var elements: [Element?]
    public init(_ elements: [Element?]) { self.elements = elements }
    public init(_ elements: [Element]) { self.elements = elements.map { $0 } }

    public var postgresText: String? {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(elements.count * 40 + 2)
        for (index, element) in elements.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            guard let text = element?.postgresText else {
                out.append(contentsOf: Array("NULL".utf8))
                continue
            }
            out.append(UInt8(ascii: "\""))
            for byte in text.utf8 {
                if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(byte)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
