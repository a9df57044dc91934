import CLibPQ
public import Foundation
import Support

/// The rows of one result in PostgreSQL's binary format, copied out of libpq into one buffer.
///
/// For bulk readers that go through a million rows (the lookup cache's warm-up, the chain
/// verifier): `PostgresRows` makes one Swift string per value, and PostgreSQL formats every
/// uuid, timestamp and bytea as text for it; here the server sends its internal representation
/// (`uuid_send`, `timestamptz_send`, raw bytea) and the whole result is one allocation, read in
/// place. The column types are the caller's to know: each accessor checks only the length.
public struct PostgresBinaryRows: Sendable, RandomAccessCollection {
    public let columns: [String]
    let storage: [UInt8]
    /// Per value: its start in `storage`, or -1 for NULL.
    let starts: [Int32]
    let lengths: [Int32]

    init(columns: [String], storage: [UInt8], starts: [Int32], lengths: [Int32]) {
        self.columns = columns
        self.storage = storage
        self.starts = starts
        self.lengths = lengths
    }

    public func columnIndex(_ name: String) -> Int? { columns.firstIndex(of: name) }

    public var startIndex: Int { 0 }
    public var endIndex: Int { columns.isEmpty ? 0 : starts.count / columns.count }
    public subscript(position: Int) -> PostgresBinaryRow {
        PostgresBinaryRow(rows: self, offset: position * columns.count)
    }

    static func copy(from result: OpaquePointer) -> PostgresBinaryRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var total = 0
        for row in 0..<rowCount {
            for column in 0..<columnCount { total += Int(PQgetlength(result, Int32(row), Int32(column))) }
        }
        var starts = [Int32](repeating: -1, count: rowCount * columnCount)
        var lengths = [Int32](repeating: 0, count: rowCount * columnCount)
        let storage = [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            var offset = 0
            for row in 0..<rowCount {
                for column in 0..<columnCount {
                    let cell = row * columnCount + column
                    guard PQgetisnull(result, Int32(row), Int32(column)) == 0 else { continue }
                    let length = Int(PQgetlength(result, Int32(row), Int32(column)))
                    if length > 0, let value = PQgetvalue(result, Int32(row), Int32(column)) {
                        UnsafeMutableRawPointer(buffer.baseAddress! + offset).copyMemory(from: value, byteCount: length)
                    }
                    starts[cell] = Int32(offset)
                    lengths[cell] = Int32(length)
                    offset += length
                }
            }
            initialized = offset
        }
        return PostgresBinaryRows(columns: columns, storage: storage, starts: starts, lengths: lengths)
    }
}

/// One row of a binary result; values by position, in the types' binary encodings.
public struct PostgresBinaryRow: Sendable {
    let rows: PostgresBinaryRows
    let offset: Int

    /// The value's bytes (nil for NULL), valid only inside `body`.
    public func withBytes<T>(at column: Int, _ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T? {
        let start = Int(rows.starts[offset + column])
        guard start >= 0 else { return nil }
        let length = Int(rows.lengths[offset + column])
        return try rows.storage.withUnsafeBytes { all in try body(UnsafeRawBufferPointer(rebasing: all[start..<start + length])) }
    }

    /// `int8`, `int4` or `int2`, by length.
    public func integer(at column: Int) throws -> Int64? {
        try withBytes(at: column) { bytes in
            switch bytes.count {
            case 8: return Int64(bigEndian: bytes.loadUnaligned(as: Int64.self))
            case 4: return Int64(Int32(bigEndian: bytes.loadUnaligned(as: Int32.self)))
            case 2: return Int64(Int16(bigEndian: bytes.loadUnaligned(as: Int16.self)))
            default: throw Self.malformed(column, "an integer")
            }
        }
    }

    public func bool(at column: Int) throws -> Bool? {
        try withBytes(at: column) { bytes in
            guard bytes.count == 1 else { throw Self.malformed(column, "a boolean") }
            return bytes[0] != 0
        }
    }

    /// `text`, `varchar` and enum values (their binary form is their UTF-8).
    public func string(at column: Int) -> String? {
        withBytes(at: column) { String(decoding: $0, as: UTF8.self) }
    }

    public func uuid(at column: Int) throws -> UUID? {
        try withBytes(at: column) { bytes in
            guard bytes.count == 16 else { throw Self.malformed(column, "a uuid") }
            // Straight from the 16 bytes (`UUID()` as a starting value would read the system's
            // random source for every row).
            return UUID(uuid: bytes.loadUnaligned(as: uuid_t.self))
        }
    }

    /// `timestamptz`/`timestamp`: microseconds since 2000-01-01 00:00 UTC, PostgreSQL's epoch.
    public func microsecondsSince2000(at column: Int) throws -> Int64? {
        try withBytes(at: column) { bytes in
            guard bytes.count == 8 else { throw Self.malformed(column, "a timestamp") }
            return Int64(bigEndian: bytes.loadUnaligned(as: Int64.self))
        }
    }

    /// `timestamptz` as a `Date` (±infinity are refused: nothing StableID stores is infinite).
    public func date(at column: Int) throws -> Date? {
        guard let micros = try microsecondsSince2000(at: column) else { return nil }
        let (unixMicros, overflow) = micros.addingReportingOverflow(Self.unixEpochOffsetMicros)
        guard micros != .max, micros != .min, !overflow else { throw Self.malformed(column, "a finite timestamp") }
        return RFC3339.date(microsecondsSince1970: unixMicros)
    }

    /// Microseconds from 1970-01-01 to 2000-01-01.
    public static let unixEpochOffsetMicros: Int64 = 946_684_800 * 1_000_000

    static func malformed(_ column: Int, _ what: String) -> PostgresError {
        PostgresError(kind: .decoding, message: "column \(column) is not \(what) in binary format")
    }
}

extension PostgresBinaryRows {
    /// Every value of the result at once, for loops that touch millions of them: one closure
    /// call per result instead of one per value.
    public func withUnsafeValues<T>(_ body: (Values) throws -> T) rethrows -> T {
        try storage.withUnsafeBytes { storage in
            try starts.withUnsafeBufferPointer { starts in
                try lengths.withUnsafeBufferPointer { lengths in
                    try body(Values(storage: storage, starts: starts, lengths: lengths, columnCount: columns.count))
                }
            }
        }
    }

    /// Borrowed views of a result's values, valid only inside ``withUnsafeValues(_:)``.
    public struct Values {
        let storage: UnsafeRawBufferPointer
        let starts: UnsafeBufferPointer<Int32>
        let lengths: UnsafeBufferPointer<Int32>
        let columnCount: Int

        /// The bytes of one value; nil for NULL.
        public func value(row: Int, column: Int) -> UnsafeRawBufferPointer? {
            let cell = row * columnCount + column
            let start = Int(starts[cell])
            guard start >= 0 else { return nil }
            return UnsafeRawBufferPointer(start: storage.baseAddress.map { $0 + start }, count: Int(lengths[cell]))
        }

        /// A big-endian `int8`/`int4` value; nil for NULL or another length.
        public func integer(row: Int, column: Int) -> Int64? {
            guard let bytes = value(row: row, column: column) else { return nil }
            switch bytes.count {
            case 8: return Int64(bigEndian: bytes.loadUnaligned(as: Int64.self))
            case 4: return Int64(Int32(bigEndian: bytes.loadUnaligned(as: Int32.self)))
            default: return nil
            }
        }
    }
}
