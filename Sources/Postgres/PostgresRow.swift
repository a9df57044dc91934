/// The rows of one result, copied out of libpq's `PGresult` so no C memory outlives the call.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public let columns: [String]
    let values: [String?]
    /// Rows changed by an `INSERT`/`UPDATE`/`DELETE` (`PQcmdTuples`).
    public let affectedRows: Int

    init(columns: [String], values: [String?], affectedRows: Int) {
        self.columns = columns
        self.values = values
        self.affectedRows = affectedRows
    }

    /// The position of a column, for hot loops that decode by position instead of by name.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : values.count / columns.count }
    public subscript(position: Int) -> PostgresRow {
        PostgresRow(rows: self, offset: position * columns.count)
    }
}

/// One row; decode columns by name or position.
public struct PostgresRow: Sendable {
    let rows: PostgresRows
    let offset: Int

    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T {
        guard let value = try decodeIfPresent(column, as: T.self) else {
            throw PostgresError(kind: .decoding, message: "column \(column) is NULL")
        }
        return value
    }

    public func decodeIfPresent<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws -> T? {
        guard let text = try rows.values[offset + index(of: column)] else { return nil }
        return try T(postgresText: text)
    }

    /// Whether the query returned a column of this name (for decoders shared by several queries).
    public func hasColumn(_ name: String) -> Bool { rows.columnIndex(name) != nil }

    /// The raw text of a column (nil for NULL), without decoding.
    public func text(at position: Int) -> String? {
        rows.values[offset + position]
    }

    public func decode<T: PostgresDecodable>(at position: Int, as type: T.Type = T.self) throws -> T {
        guard position < rows.columns.count, let text = rows.values[offset + position] else {
            throw PostgresError(kind: .decoding, message: "column \(position) is NULL or missing")
        }
        return try T(postgresText: text)
    }

    private func index(of column: String) throws -> Int {
        guard let index = rows.columns.firstIndex(of: column) else {
            throw PostgresError(kind: .decoding, message: "no column named \(column)")
        }
        return index
    }
}
