import CryptoPrimitives
import Foundation
public import IdentityMap
import Postgres
import Support

/// Recomputes the chain and names the first position where history was changed.
public struct ChainVerifier: Sendable {
    public enum ProblemKind: String, Sendable, Codable {
        /// An event's content (or its personal data) differs from what was sealed.
        case modified
        /// A chain position or the event it names is gone.
        case missing
        /// An event is in no chain position and not queued for sealing.
        case inserted
        /// Two events changed places.
        case reordered
        /// The chain does not contain a signed checkpoint's head (truncated or rewritten).
        case checkpointMismatch = "checkpoint_mismatch"
        /// An event's personal data is gone, and no erasure accounts for it.
        case personalDataRemoved = "personal_data_removed"
    }

    public struct Problem: Sendable, Codable, Equatable {
        public var position: Int64
        public var kind: ProblemKind
        public var detail: String
    }

    public struct Report: Sendable, Codable {
        public var verified: Int64
        public var head: AuditChain.Head
        /// Committed events not sealed yet (the sealer runs continuously, so a few are normal).
        public var pending: Int64
        /// How long the oldest of them has waited: a stuck sealer (or a held lock) leaves events
        /// outside the chain, which `verify` reports as a failure past a threshold.
        public var oldestPendingSeconds: Double?
        public var checkpointsChecked: Int
        public var problem: Problem?
        /// Pages the binary fast path could not vouch for in full and handed to the text path
        /// (0 on an intact chain: more means the two paths disagree, a bug, or a problem found).
        public var pagesRechecked = 0

        enum CodingKeys: String, CodingKey {
            case verified, head, pending, problem
            case oldestPendingSeconds = "oldest_pending_seconds"
            case checkpointsChecked = "checkpoints_checked"
            case pagesRechecked = "pages_rechecked"
        }
    }

    public let database: Database
    let pageSize: Int
    /// Pages fetched ahead of the one being hashed (each on its own connection when the pool has them).
    static let pagesAhead = 2

    public init(database: Database, pageSize: Int = 10_000) {
        self.database = database
        self.pageSize = pageSize
    }

    /// The index of the first row whose event is gone, holds a value its bytes cannot vouch for
    /// (`sub = ''`: ``CanonicalEvent/TextColumn``) or does not hash, from its stored previous hash,
    /// to its stored hash (`Int.max` when all do). Runs on several cores.
    static func firstSuspect(
        rows: PostgresRows, count: Int, columns: AuditChain.Columns, seqColumn: Int, previousColumn: Int, hashColumn: Int, digestColumn: Int
    ) async -> Int {
        let chunk = max(256, count / 8 + 1)
        return await withTaskGroup(of: Int.self) { group in
            for start in stride(from: 0, to: count, by: chunk) {
                group.addTask {
                    for index in start..<min(start + chunk, count) {
                        let row = rows[index]
                        guard row.text(at: columns.id) != nil, let previousText = row.text(at: previousColumn),
                            let storedText = row.text(at: hashColumn),
                            let previous = try? PostgresBytes(postgresText: previousText).bytes,
                            let seq: Int64 = try? row.decode(at: seqColumn), var event = try? columns.canonical(row, seq: seq)
                        else { return index }
                        if !columns.ambiguousValues(row).isEmpty { return index }
                        event.personalDigest = row.text(at: digestColumn).flatMap { try? PostgresBytes(postgresText: $0).bytes }
                        if let current = try? columns.currentPersonalDigest(row), current != event.personalDigest { return index }
                        if "\\x" + Hex.encode(event.chainHash(previous: previous)) != storedText { return index }
                    }
                    return Int.max
                }
            }
            var first = Int.max
            for await index in group { first = min(first, index) }
            return first
        }
    }

    /// A page is a range of positions probed into `events` by primary key: the planner,
    /// estimating a page's rows, would otherwise hash all of `events` for every page. Parallel
    /// workers only add start-up cost.
    private static func planned<T>(_ connection: PostgresConnection, _ body: () throws -> T) throws -> T {
        try connection.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        try connection.execute("SET LOCAL enable_hashjoin = off")
        try connection.execute("SET LOCAL enable_mergejoin = off")
        return try body()
    }

    /// The text path: checks up to `limit` positions from `expected` and names the first problem
    /// (false when it found one). The positions after the first that does not hash are walked one
    /// by one, so a problem is told apart from a reorder and a rewrite; one row past `limit`, when
    /// there is one, lets the reorder check see the next position.
    static func checkText(
        _ rows: PostgresRows, limit: Int, checkpointPositions: Set<Int64>, hashes: inout [Int64: [UInt8]],
        expected: inout Int64, previous: inout [UInt8], report: inout Report
    ) async throws -> Bool {
        guard limit > 0 else { return true }
        if rows.isEmpty {
            report.problem = Problem(position: expected, kind: .missing, detail: "chain position \(expected) is missing")
            return false
        }
        let columns = try AuditChain.Columns(rows)
        guard let seqColumn = rows.columnIndex("seq"), let chainedColumn = rows.columnIndex("chained_id"),
            let digestColumn = rows.columnIndex("personal_digest"), let previousColumn = rows.columnIndex("prev_hash"),
            let hashColumn = rows.columnIndex("hash")
        else { throw PostgresError(kind: .decoding, message: "chain columns missing") }
        func digest(_ row: PostgresRow) throws -> [UInt8]? {
            try row.text(at: digestColumn).map { try PostgresBytes(postgresText: $0).bytes }
        }
        let count = min(rows.count, limit)
        let firstSuspect = await Self.firstSuspect(
            rows: rows, count: count, columns: columns, seqColumn: seqColumn, previousColumn: previousColumn,
            hashColumn: hashColumn, digestColumn: digestColumn
        )
        var previousText = "\\x" + Hex.encode(previous)
        defer { previous = (try? PostgresBytes(postgresText: previousText).bytes) ?? previous }
        for (index, row) in rows.prefix(count).enumerated() {
            let seq: Int64 = try row.decode(at: seqColumn)
            guard seq == expected else {
                report.problem = Problem(
                    position: expected, kind: .missing, detail: "chain position \(expected) is missing (next is \(seq))")
                return false
            }
            if index < firstSuspect, row.text(at: previousColumn) == previousText, let storedText = row.text(at: hashColumn) {
                if checkpointPositions.contains(seq) { hashes[seq] = try PostgresBytes(postgresText: storedText).bytes }
                previousText = storedText
                report.verified += 1
                report.head = AuditChain.Head(size: seq, hash: String(storedText.dropFirst(2)))
                expected += 1
                continue
            }
            let previous = try PostgresBytes(postgresText: previousText).bytes
            let chainedID: Int64 = try row.decode(at: chainedColumn)
            guard row.text(at: columns.id) != nil else {
                report.problem = Problem(position: seq, kind: .missing, detail: "event \(chainedID) sealed at position \(seq) was deleted")
                return false
            }
            let storedText = row.text(at: hashColumn) ?? ""
            var event = try columns.canonical(row, seq: seq)
            event.personalDigest = try digest(row)
            let personalIntact = try columns.currentPersonalDigest(row).map { $0 == event.personalDigest } ?? true
            let computed = event.chainHash(previous: previous)
            let computedText = "\\x" + Hex.encode(computed)
            guard personalIntact, row.text(at: previousColumn) == previousText, computedText == storedText else {
                // A neighbour's content fitting this position means two events changed places.
                if index + 1 < rows.count, rows[index + 1].text(at: columns.id) != nil {
                    var neighbour = try columns.canonical(rows[index + 1], seq: seq)
                    neighbour.personalDigest = try columns.currentPersonalDigest(rows[index + 1]) ?? digest(rows[index + 1])
                    if "\\x" + Hex.encode(neighbour.chainHash(previous: previous)) == storedText {
                        report.problem = Problem(
                            position: seq, kind: .reordered, detail: "the events at positions \(seq) and \(seq + 1) were swapped")
                        return false
                    }
                }
                let detail =
                    !personalIntact
                    ? "personal data of event \(chainedID) was modified"
                    : row.text(at: previousColumn) == previousText
                        ? "event \(chainedID) differs from what was sealed"
                        : "the chain was rewritten at this position"
                report.problem = Problem(position: seq, kind: .modified, detail: detail)
                return false
            }
            // It hashes, but through a value the bytes write as they write another ('' as NULL).
            let ambiguous = columns.ambiguousValues(row)
            guard ambiguous.isEmpty else {
                report.problem = Problem(
                    position: seq, kind: .modified, detail: CanonicalEvent.ambiguityDetail(eventID: chainedID, ambiguous))
                return false
            }
            if checkpointPositions.contains(seq) { hashes[seq] = computed }
            previousText = computedText
            report.verified += 1
            report.head = AuditChain.Head(size: seq, hash: String(computedText.dropFirst(2)))
            expected += 1
        }
        if count < limit, report.problem == nil {
            // The page ends before its range does: the positions after the last one are gone.
            report.problem = Problem(position: expected, kind: .missing, detail: "chain position \(expected) is missing")
            return false
        }
        return true
    }

    /// Verifies positions `from…head`; with `from > 1` the stored hash before `from` is trusted.
    public func verify(from: Int64 = 1, checkpoints: [Checkpoint] = [], publicKey: [UInt8]? = nil) async throws -> Report {
        var report = Report(
            verified: 0, head: AuditChain.Head(size: 0, hash: Hex.encode(CanonicalEvent.genesis)), pending: 0, checkpointsChecked: 0)
        var expected = max(1, from)
        var previous = CanonicalEvent.genesis
        if expected > 1 {
            let prior = try await database.primary.query("SELECT hash FROM event_chain WHERE seq = \(expected - 1)")
            guard let row = prior.first else {
                report.problem = Problem(position: expected - 1, kind: .missing, detail: "chain position \(expected - 1) does not exist")
                return report
            }
            previous = try row.decode("hash", as: PostgresBytes.self).bytes
            // Verification continues from a trusted head: with nothing new, that head is the answer.
            report.head = AuditChain.Head(size: expected - 1, hash: Hex.encode(previous))
        }
        var hashes: [Int64: [UInt8]] = [:]  // only at checkpoint positions
        // Checkpoints below `from` are compared with the stored hashes there, as the trusted part.
        for position in Set(checkpoints.map(\.size)) where position > 0 && position < expected {
            if let row = try await database.primary.query("SELECT hash FROM event_chain WHERE seq = \(position)").first {
                hashes[position] = try row.decode("hash", as: PostgresBytes.self).bytes
            }
        }
        let checkpointPositions = Set(checkpoints.map(\.size))
        // Pages are fixed ranges of positions. Two are fetched ahead on their own connections
        // while this one is hashed, so both cores are busy: the database producing rows for the
        // next pages, this process hashing the current one.
        let database = self.database
        let pageSize = self.pageSize
        let size: Int64 = try await database.primary.query("SELECT coalesce(max(seq), 0) AS size FROM event_chain")[0].decode("size")
        func fetchBinary(from position: Int64) -> Task<PostgresBinaryRows, any Error> {
            Task {
                try await database.primary.transaction { connection in
                    try Self.planned(connection) {
                        try connection.queryBinary(
                            """
                            SELECT \(unescaped: BinaryChainPage.columns)
                            FROM event_chain c LEFT JOIN events e ON e.id = c.event_id LEFT JOIN event_personal_data p ON p.event_id = e.id
                            WHERE c.seq >= \(position) AND c.seq < \(position + Int64(pageSize)) ORDER BY c.seq
                            """
                        )
                    }
                }
            }
        }
        var nextPage = expected
        var inFlight: [(start: Int64, rows: Task<PostgresBinaryRows, any Error>)] = []
        func fill() {
            while inFlight.count < Self.pagesAhead, nextPage <= size {
                inFlight.append((nextPage, fetchBinary(from: nextPage)))
                nextPage += Int64(pageSize)
            }
        }
        fill()
        defer { for page in inFlight { page.rows.cancel() } }
        var pagesRechecked = 0
        pages: while !inFlight.isEmpty {
            let (pageStart, pending) = inFlight.removeFirst()
            let rows = try await pending.value
            fill()
            let count = rows.count
            let unvouched = await BinaryChainPage.firstUnvouched(rows, count: count)
            // The positions must follow each other and each must name the hash before it.
            let vouched = rows.withUnsafeValues { values -> Int in
                for index in 0..<min(count, unvouched) {
                    guard values.integer(row: index, column: BinaryChainPage.Column.seq) == expected,
                        let linked = values.value(row: index, column: BinaryChainPage.Column.previousHash),
                        linked.elementsEqual(previous),
                        let stored = values.value(row: index, column: BinaryChainPage.Column.hash)
                    else { return index }
                    previous.withUnsafeMutableBytes { $0.copyMemory(from: stored) }  // both 32 bytes
                    if checkpointPositions.contains(expected) { hashes[expected] = previous }
                    report.verified += 1
                    expected += 1
                }
                return min(count, unvouched)
            }
            if vouched > 0 { report.head = AuditChain.Head(size: expected - 1, hash: Hex.encode(previous)) }
            let pageEnd = pageStart + Int64(pageSize)
            // (`>=`: the last page may hold positions sealed after `size` was read.)
            if vouched == count, expected >= min(pageEnd, size + 1) { continue }
            // Something the fast path cannot vouch for: the text path reads the rest of the page
            // (and one position past it, for the reorder check) and names the problem, if any.
            pagesRechecked += 1
            let recheckFrom = expected
            let textRows = try await database.primary.transaction { connection in
                try Self.planned(connection) {
                    try connection.query(
                        """
                        SELECT c.seq, c.event_id AS chained_id, c.personal_digest, c.prev_hash, c.hash, \(unescaped: AuditChain.eventColumns)
                        FROM event_chain c LEFT JOIN events e ON e.id = c.event_id LEFT JOIN event_personal_data p ON p.event_id = e.id
                        WHERE c.seq >= \(recheckFrom) AND c.seq <= \(pageEnd) ORDER BY c.seq
                        """
                    )
                }
            }
            let intact = try await Self.checkText(
                textRows, limit: Int(max(0, min(pageEnd, size + 1) - expected)), checkpointPositions: checkpointPositions, hashes: &hashes,
                expected: &expected, previous: &previous, report: &report
            )
            guard intact else { break pages }
        }
        report.pagesRechecked = pagesRechecked
        if report.problem == nil, report.head.size < size {
            report.problem = Problem(
                position: report.head.size + 1, kind: .missing, detail: "chain position \(report.head.size + 1) is missing")
        }
        if report.problem == nil {
            // An event that is neither sealed nor queued was put there behind the queue's back.
            let orphans = try await database.primary.query(
                """
                SELECT e.id, (SELECT min(c.seq) FROM event_chain c WHERE c.event_id > e.id) AS position FROM events e
                WHERE NOT EXISTS (SELECT 1 FROM event_chain c WHERE c.event_id = e.id)
                  AND NOT EXISTS (SELECT 1 FROM event_pending q WHERE q.event_id = e.id)
                ORDER BY e.id LIMIT 1
                """
            )
            if let orphan = orphans.first {
                let id: Int64 = try orphan.decode("id")
                let position: Int64 = try orphan.decodeIfPresent("position") ?? (report.head.size + 1)
                report.problem = Problem(
                    position: position, kind: .inserted, detail: "event \(id) is in no chain position and not queued for sealing")
            }
        }
        if report.problem == nil {
            // A sealed event whose personal data is gone must be named by an erasure event (older
            // erasures, which did not list the events, cover their users' events).
            let removed = try await database.primary.query(
                """
                WITH erasures AS (SELECT details FROM events WHERE kind = 'personal_data_erased'),
                     listed AS (SELECT jsonb_array_elements_text(details->'scrubbed_events')::bigint AS id
                                FROM erasures WHERE details ? 'scrubbed_events'),
                     by_user AS (SELECT jsonb_array_elements_text(details->'users')::uuid AS user_id
                                 FROM erasures WHERE NOT details ? 'scrubbed_events')
                SELECT c.seq, c.event_id FROM event_chain c
                JOIN events e ON e.id = c.event_id
                LEFT JOIN event_personal_data p ON p.event_id = c.event_id
                WHERE c.seq >= \(from) AND c.personal_digest IS NOT NULL AND p.event_id IS NULL
                  AND c.event_id NOT IN (SELECT id FROM listed)
                  AND (e.user_id IS NULL OR e.user_id NOT IN (SELECT user_id FROM by_user))
                ORDER BY c.seq LIMIT 1
                """
            )
            if let row = removed.first {
                let id: Int64 = try row.decode("event_id")
                report.problem = Problem(
                    position: try row.decode("seq"), kind: .personalDataRemoved,
                    detail: "the personal data of event \(id) is gone and no erasure event accounts for it"
                )
            }
        }
        if report.problem == nil {
            for checkpoint in checkpoints {
                if let problem = checkpoint.check(against: hashes, chainSize: report.head.size, trustedKey: publicKey) {
                    report.problem = problem
                    break
                }
                report.checkpointsChecked += 1
            }
        }
        let pendingRow = try await database.primary.query(
            """
            SELECT count(*) AS n, extract(epoch FROM now() - min(e.occurred_at))::float8 AS oldest
            FROM event_pending q JOIN events e ON e.id = q.event_id
            """
        )[0]
        report.pending = try pendingRow.decode("n")
        report.oldestPendingSeconds = try pendingRow.decodeIfPresent("oldest")
        return report
    }
}
