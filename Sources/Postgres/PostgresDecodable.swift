public import Foundation
import Support

/// A Swift value that can be read from a text-format result column.
public protocol PostgresDecodable: Sendable {
    init(postgresText: String) throws
}

extension String: PostgresDecodable {
    public init(postgresText: String) { self = postgresText }
}

extension Int: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Int(postgresText) else { throw PostgresError.decoding("integer") }
        self = value
    }
}

extension Int64: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Int64(postgresText) else { throw PostgresError.decoding("bigint") }
        self = value
    }
}

extension Int32: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Int32(postgresText) else { throw PostgresError.decoding("integer") }
        self = value
    }
}

extension Double: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = Double(postgresText) else { throw PostgresError.decoding("double") }
        self = value
    }
}

extension Bool: PostgresDecodable {
    public init(postgresText: String) throws {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: throw PostgresError.decoding("boolean")
        }
    }
}

extension UUID: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = UUID(uuidString: postgresText) else { throw PostgresError.decoding("uuid") }
        self = value
    }
}

/// Sessions run with `TimeZone=UTC` and `DateStyle=ISO`, so `timestamptz` arrives as
/// `2026-11-27 09:38:53.123456+00`, one of the spellings `RFC3339.parse` reads.
extension Date: PostgresDecodable {
    public init(postgresText: String) throws {
        guard let value = RFC3339.parse(postgresText) else { throw PostgresError.decoding("timestamptz") }
        self = value
    }
}

/// `text[]` in PostgreSQL's array output syntax (one dimension).
extension Array: PostgresDecodable where Element == String {
    public init(postgresText: String) throws {
        guard let elements = PostgresArrayParser.parse(postgresText) else {
            throw PostgresError.decoding("text[]")
        }
        self = elements
    }
}

enum PostgresArrayParser {
    static func parse(_ text: String) -> [String]? {
        var scalars = Substring(text).unicodeScalars[...]
        guard scalars.first == "{", scalars.last == "}" else { return nil }
        scalars = scalars.dropFirst().dropLast()
        var result: [String] = []
        var current = String.UnicodeScalarView()
        var inQuotes = false
        var escaped = false
        if scalars.isEmpty { return [] }
        for scalar in scalars {
            if escaped {
                current.append(scalar)
                escaped = false
            } else if scalar == "\\" {
                escaped = true
            } else if scalar == "\"" {
                inQuotes.toggle()
            } else if scalar == "," && !inQuotes {
                result.append(String(current))
                current = String.UnicodeScalarView()
            } else {
                current.append(scalar)
            }
        }
        result.append(String(current))
        return result
    }
}

extension PostgresError {
    static func decoding(_ type: String) -> PostgresError {
        PostgresError(kind: .decoding, message: "column value is not a valid \(type)")
    }
}
