/// A SQL statement whose interpolated values become bound parameters (`$1`, `$2`, …).
///
/// `"SELECT … WHERE sub = \(sub)"` never splices `sub` into the text. A raw fragment needs the
/// explicit, greppable `\(unescaped: …)` and must never carry user input.
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation {
    public var sql: String
    public var binds: [String?]

    public init(unsafeSQL sql: String, binds: [String?] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.sql = value
        self.binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.binds = stringInterpolation.binds
    }

    public struct StringInterpolation: StringInterpolationProtocol, Sendable {
        var sql: String
        var binds: [String?]

        public init(literalCapacity: Int, interpolationCount: Int) {
            self.sql = ""
            self.sql.reserveCapacity(literalCapacity + interpolationCount * 3)
            self.binds = []
            self.binds.reserveCapacity(interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }

        public mutating func appendInterpolation(_ value: (some PostgresEncodable)?) {
            binds.append(value?.postgresText)
            sql += "$\(binds.count)"
        }

        /// Embeds another query (a fragment written by code, such as a jsonb builder shared by
        /// several statements), renumbering its `$n` placeholders after the binds so far. The
        /// fragment must not contain dollar-quoted text.
        public mutating func appendInterpolation(fragment: PostgresQuery) {
            let offset = binds.count
            binds.append(contentsOf: fragment.binds)
            var utf8 = Array(fragment.sql.utf8)[...]
            var out = ""
            while let dollar = utf8.firstIndex(of: UInt8(ascii: "$")) {
                out += String(decoding: utf8[..<dollar], as: UTF8.self)
                var end = utf8.index(after: dollar)
                while end < utf8.endIndex, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(utf8[end]) { end += 1 }
                if let number = Int(String(decoding: utf8[utf8.index(after: dollar)..<end], as: UTF8.self)) {
                    out += "$\(number + offset)"
                } else {
                    out += "$"
                }
                utf8 = utf8[end...]
            }
            sql += out + String(decoding: utf8, as: UTF8.self)
        }

        /// Splices trusted SQL text (an identifier or keyword chosen by code, never by a request).
        public mutating func appendInterpolation(unescaped fragment: String) {
            sql += fragment
        }
    }
}
