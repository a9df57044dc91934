import CLibPQ
import Foundation

/// Owns one libpq connection (`PGconn*`).
///
/// Every method blocks the calling thread on network I/O, so a connection is only ever used from the
/// dedicated thread of the ``PostgresClient`` slot that leased it, never from Swift's cooperative pool.
/// `@unchecked Sendable`: the pool hands a connection to exactly one lease at a time, so it is never
/// touched by two threads at once; the type itself has no locking.
public final class PostgresConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    /// SQL text → prepared statement name; prepared once per connection, like `pgbench -M prepared`.
    private var statements: [String: String] = [:]
    /// Names are never reused: after an invalidation the old name may still exist on the server.
    private var nextStatementNumber = 0
    private static let statementCacheLimit = 512

    private init(handle: OpaquePointer) {
        self.handle = handle
    }

    deinit {
        PQfinish(handle)
    }

    /// Opens a connection from a libpq connection string or URI (empty: libpq's `PG*` variables).
    public static func connect(
        conninfo: String,
        applicationName: String = "stableid",
        connectTimeoutSeconds: Int = 5,
        session: SessionSettings = SessionSettings()
    ) throws -> PostgresConnection {
        // Our defaults come first so that anything in the caller's conninfo overrides them
        // (with expand_dbname, later keywords win). TCP keepalives and tcp_user_timeout make a
        // peer that vanished (a failover, a cut cable) an error within seconds instead of a hang.
        let keywords = [
            "application_name", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
            "keepalives_count", "tcp_user_timeout", "dbname",
        ]
        let values = [
            applicationName, String(connectTimeoutSeconds), "1", String(session.keepaliveIdleSeconds), "5", "3",
            String(session.tcpUserTimeoutMilliseconds), conninfo,
        ]
        let handle: OpaquePointer? = withCStringArray(keywords) { keys in
            withCStringArray(values) { vals in
                PQconnectdbParams(keys, vals, 1)
            }
        }
        guard let handle else {
            throw PostgresError(kind: .connection, message: "out of memory opening a connection")
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            let message = Self.trimmed(PQerrorMessage(handle))
            PQfinish(handle)
            throw PostgresError(kind: .connection, message: message)
        }
        // Server NOTICEs (`… already exists, skipping`) are not for the operator's terminal; libpq
        // would print each to stderr, in the middle of structured logs.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        let connection = PostgresConnection(handle: handle)
        try connection.executeScript(session.script)
        return connection
    }

    /// False once the socket is gone; the pool replaces such a connection.
    public var isHealthy: Bool {
        PQstatus(handle) == CONNECTION_OK
    }

    /// Whether the session sits inside a transaction block (used to roll back abandoned work).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// Runs one statement with bound parameters and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) throws -> PostgresRows {
        let result = try run(query)
        defer { PQclear(result) }
        return Self.rows(from: result)
    }

    /// Runs one statement and returns its rows in PostgreSQL's binary format (see
    /// ``PostgresBinaryRows``: for readers of many rows that know their columns' types).
    public func queryBinary(_ query: PostgresQuery) throws -> PostgresBinaryRows {
        let result = try run(query, resultFormat: 1)
        defer { PQclear(result) }
        return PostgresBinaryRows.copy(from: result)
    }

    /// Runs one statement and lends the first column of each row, in binary, to `body` in place
    /// (nil for NULL): for a few large values, such as a set packed into `bytea` chunks.
    /// `queryBinary` would copy them before freeing libpq's result, holding the set twice at its
    /// peak. The bytes are valid only inside `body`.
    public func forEachBinaryValue(_ query: PostgresQuery, _ body: (UnsafeRawBufferPointer?) throws -> Void) throws {
        let result = try run(query, resultFormat: 1)
        defer { PQclear(result) }
        guard PQnfields(result) > 0 else { return }
        for row in 0..<PQntuples(result) {
            guard PQgetisnull(result, row, 0) == 0 else {
                try body(nil)
                continue
            }
            let length = Int(PQgetlength(result, row, 0))
            try body(UnsafeRawBufferPointer(start: length > 0 ? PQgetvalue(result, row, 0) : nil, count: length))
        }
    }

    /// Runs one statement and returns the number of rows it changed.
    @discardableResult
    public func execute(_ query: PostgresQuery) throws -> Int {
        try self.query(query).affectedRows
    }

    /// Runs a script of one or more statements without parameters (migrations, session setup).
    public func executeScript(_ sql: String) throws {
        guard let result = PQexec(handle, sql) else { throw connectionError() }
        defer { PQclear(result) }
        try check(result)
        // PQexec returns only the last result; errors in earlier statements abort the script anyway.
    }

    private func run(_ query: PostgresQuery, resultFormat: Int32 = 0) throws -> OpaquePointer {
        do {
            return try runOnce(query, resultFormat: resultFormat)
        } catch let error as PostgresError where error.invalidatesPreparedStatement {
            // A schema change (`ALTER … TYPE` under a running service) or `DISCARD ALL` left the
            // prepared statement unusable. Forget it; outside a transaction prepare afresh under
            // a new name and run again once; inside one the transaction has failed, so the
            // caller's transaction retries the whole body (which then prepares afresh).
            forgetStatement(for: query.sql)
            guard PQtransactionStatus(handle) == PQTRANS_IDLE else {
                throw RetryableConflict("a prepared statement was invalidated by a schema change")
            }
            return try runOnce(query, resultFormat: resultFormat)
        }
    }

    /// `resultFormat` 0 asks for text, 1 for binary; a binary result always takes the extended
    /// protocol (`PQexec` has no format to ask for).
    private func runOnce(_ query: PostgresQuery, resultFormat: Int32) throws -> OpaquePointer {
        // libpq takes C strings: a NUL would silently cut the value short (`sub=S%00junk` would
        // look up S). PostgreSQL text cannot hold NUL anyway, so refuse it outright.
        if query.binds.contains(where: { $0?.utf8.contains(0) == true }) {
            throw PostgresError(kind: .invalidParameter, message: "a parameter contains a NUL byte")
        }
        let result: OpaquePointer?
        if resultFormat == 0, query.binds.isEmpty, !query.sql.contains("$") {
            result = PQexec(handle, query.sql)
        } else if let name = try preparedStatement(for: query.sql) {
            result = withBinds(query.binds) { count, values in
                PQexecPrepared(handle, name, count, values, nil, nil, resultFormat)
            }
        } else {
            result = withBinds(query.binds) { count, values in
                PQexecParams(handle, query.sql, count, nil, values, nil, nil, resultFormat)
            }
        }
        guard let result else { throw connectionError() }
        do {
            try check(result)
        } catch {
            PQclear(result)
            throw error
        }
        return result
    }

    private func forgetStatement(for sql: String) {
        guard let name = statements.removeValue(forKey: sql) else { return }
        // Best effort: outside a failed transaction the server can drop it now; otherwise it
        // lives (unused, under a name never handed out again) until the connection closes.
        if PQtransactionStatus(handle) == PQTRANS_IDLE, let result = PQexec(handle, "DEALLOCATE \(name)") {
            PQclear(result)
        }
    }

    private func preparedStatement(for sql: String) throws -> String? {
        if let name = statements[sql] { return name }
        guard statements.count < Self.statementCacheLimit, !isInTransactionError else { return nil }
        nextStatementNumber += 1
        let name = "s\(nextStatementNumber)"
        guard let result = PQprepare(handle, name, sql, 0, nil) else { throw connectionError() }
        defer { PQclear(result) }
        try check(result)
        statements[sql] = name
        return name
    }

    private var isInTransactionError: Bool {
        PQtransactionStatus(handle) == PQTRANS_INERROR
    }

    private func check(_ result: OpaquePointer) throws {
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_IN, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return
        default:
            throw serverError(from: result)
        }
    }

    private func serverError(from result: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let pointer = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: pointer)
        }
        guard let sqlState = field("C") else {
            return connectionError()
        }
        let primary = field("M") ?? "unknown error"
        // Classes 22 (data exception) and 23 (integrity) name offending values in their messages.
        let message: String
        if sqlState.hasPrefix("22") {
            message = "invalid value for a column or parameter"
        } else if sqlState.hasPrefix("23") {
            message = "integrity constraint violated"
        } else {
            message = primary
        }
        return PostgresError(kind: .server, sqlState: sqlState, constraint: field("n"), message: message)
    }

    private func connectionError() -> PostgresError {
        PostgresError(kind: .connection, message: Self.trimmed(PQerrorMessage(handle)))
    }

    private static func trimmed(_ pointer: UnsafePointer<CChar>?) -> String {
        guard let pointer else { return "unknown libpq error" }
        return String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func rows(from result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        var columns: [String] = []
        columns.reserveCapacity(columnCount)
        for column in 0..<columnCount {
            columns.append(String(cString: PQfname(result, Int32(column))))
        }
        var values: [String?] = []
        values.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                if PQgetisnull(result, Int32(row), Int32(column)) == 1 {
                    values.append(nil)
                } else {
                    values.append(String(cString: PQgetvalue(result, Int32(row), Int32(column))))
                }
            }
        }
        let affected = Int(String(cString: PQcmdTuples(result))) ?? 0
        return PostgresRows(columns: columns, values: values, affectedRows: affected)
    }

    // MARK: COPY

    /// Streams rows into `COPY … FROM STDIN` (text format) and returns how many were loaded.
    ///
    /// The rows are encoded and sent in chunks, so memory stays flat however many there are.
    @discardableResult
    public func copyFrom(_ copyStatement: PostgresQuery, rows: some Sequence<[String?]>) throws -> Int {
        guard let start = PQexec(handle, copyStatement.sql) else { throw connectionError() }
        guard PQresultStatus(start) == PGRES_COPY_IN else {
            defer { PQclear(start) }
            try check(start)
            throw PostgresError(kind: .client, message: "statement did not start COPY FROM STDIN")
        }
        PQclear(start)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 16)
        var copyFailed: PostgresError?
        func flush() {
            guard !buffer.isEmpty, copyFailed == nil else { return }
            let sent = buffer.withUnsafeBufferPointer { pointer in
                pointer.withMemoryRebound(to: CChar.self) { chars in
                    PQputCopyData(handle, chars.baseAddress, Int32(chars.count))
                }
            }
            if sent != 1 { copyFailed = connectionError() }
            buffer.removeAll(keepingCapacity: true)
        }
        for row in rows {
            Self.appendCopyLine(row, to: &buffer)
            if buffer.count >= 1 << 16 { flush() }
            if copyFailed != nil { break }
        }
        flush()
        if PQputCopyEnd(handle, copyFailed == nil ? nil : "client error") != 1 {
            throw connectionError()
        }
        var firstError: PostgresError? = copyFailed
        var loaded = 0
        while let result = PQgetResult(handle) {
            if PQresultStatus(result) == PGRES_COMMAND_OK {
                loaded = Int(String(cString: PQcmdTuples(result))) ?? 0
            } else if firstError == nil {
                firstError = serverError(from: result)
            }
            PQclear(result)
        }
        if let firstError { throw firstError }
        return loaded
    }

    static func appendCopyLine(_ row: [String?], to buffer: inout [UInt8]) {
        for (index, value) in row.enumerated() {
            if index > 0 { buffer.append(9) }
            guard var value else {
                buffer.append(contentsOf: [92, 78])  // \N
                continue
            }
            // Runs without a byte to escape (nearly every value) are copied at once.
            value.withUTF8 { utf8 in
                var start = 0
                for position in 0..<utf8.count {
                    let escaped: UInt8
                    switch utf8[position] {
                    case 92: escaped = 92
                    case 9: escaped = 116
                    case 10: escaped = 110
                    case 13: escaped = 114
                    default: continue
                    }
                    buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<position]))
                    buffer.append(92)
                    buffer.append(escaped)
                    start = position + 1
                }
                buffer.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
            }
        }
        buffer.append(10)
    }

    // MARK: LISTEN / NOTIFY

    /// A notification received on a `LISTEN` channel.
    public struct Notification: Sendable, Equatable {
        public var channel: String
        public var payload: String

        public init(channel: String, payload: String) {
            self.channel = channel
            self.payload = payload
        }
    }

    /// Waits up to `timeoutMilliseconds` for notifications on channels this session listens to.
    public func waitForNotifications(timeoutMilliseconds: Int) throws -> [Notification] {
        var received = drainNotifications()
        if !received.isEmpty { return received }
        let socket = PQsocket(handle)
        guard socket >= 0 else { throw connectionError() }
        let ready = stableid_pq_wait_readable(socket, Int32(timeoutMilliseconds))
        if ready < 0 && errno != EINTR { throw connectionError() }
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else { throw connectionError() }
            received = drainNotifications()
        }
        return received
    }

    private func drainNotifications() -> [Notification] {
        var received: [Notification] = []
        while let notice = PQnotifies(handle) {
            let message = notice.pointee
            received.append(
                Notification(channel: String(cString: message.relname), payload: String(cString: message.extra))
            )
            PQfreemem(notice)
        }
        return received
    }
}

// MARK: C string plumbing

private func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let duplicated = strings.map { strdup($0) }
    defer { duplicated.forEach { free($0) } }
    var pointers: [UnsafePointer<CChar>?] = duplicated.map { UnsafePointer($0) }
    pointers.append(nil)
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

private func withBinds<R>(_ binds: [String?], _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
    let duplicated: [UnsafeMutablePointer<CChar>?] = binds.map { value in value.map { strdup($0) } }
    defer { duplicated.forEach { free($0) } }
    let pointers: [UnsafePointer<CChar>?] = duplicated.map { pointer in pointer.map { UnsafePointer($0) } }
    return pointers.withUnsafeBufferPointer { body(Int32(binds.count), $0.baseAddress) }
}
