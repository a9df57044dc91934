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

    /// Where a verification stands, carried from page to page.
    struct Progress {
        var report: Report
        /// The next position the chain must hold.
        var expected: Int64
        /// The hash that position must name as its previous hash.
        var previous: [UInt8]
        /// Hashes at checkpoint positions only: the checkpoints are compared with them at the end.
        var hashes: [Int64: [UInt8]] = [:]
        let checkpointPositions: Set<Int64>

        /// Position `seq` is verified, with the hash PostgreSQL spells `hashText` (`\x…`); `hash`
        /// gives its bytes, asked for only at a checkpoint position.
        mutating func accept(_ seq: Int64, hashText: String, hash: () throws -> [UInt8]) rethrows {
            if checkpointPositions.contains(seq) { hashes[seq] = try hash() }
            report.verified += 1
            report.head = AuditChain.Head(size: seq, hash: String(hashText.dropFirst(2)))
            expected += 1
        }
    }

    /// Verifies positions `from…head`; with `from > 1` the stored hash before `from` is trusted.
    public func verify(from: Int64 = 1, checkpoints: [Checkpoint] = [], publicKey: [UInt8]? = nil) async throws -> Report {
        var progress = try await startingPoint(from: from, checkpoints: checkpoints)
        // The position to trust does not exist: nothing can be checked from it.
        if progress.report.problem != nil { return progress.report }
        let size: Int64 = try await database.primary.query("SELECT coalesce(max(seq), 0) AS size FROM event_chain")[0].decode("size")
        try await walkPages(through: size, &progress)
        var report = progress.report
        if report.problem == nil, report.head.size < size {
            report.problem = Problem(
                position: report.head.size + 1, kind: .missing, detail: "chain position \(report.head.size + 1) is missing")
        }
        if report.problem == nil { report.problem = try await firstUnqueuedEvent(headSize: report.head.size) }
        if report.problem == nil { report.problem = try await firstUnaccountedRemoval(from: from) }
        if report.problem == nil { Self.check(checkpoints, against: progress.hashes, publicKey: publicKey, &report) }
        try await countPending(&report)
        return report
    }

    /// Where verification starts: position 1 from the genesis hash, or `from` from the stored hash
    /// before it, which is trusted — as are the stored hashes at checkpoint positions below
    /// `from`, which the checkpoints are compared with. The report names a problem when the
    /// position to trust does not exist.
    func startingPoint(from: Int64, checkpoints: [Checkpoint]) async throws -> Progress {
        var progress = Progress(
            report: Report(
                verified: 0, head: AuditChain.Head(size: 0, hash: Hex.encode(CanonicalEvent.genesis)), pending: 0, checkpointsChecked: 0),
            expected: max(1, from), previous: CanonicalEvent.genesis, checkpointPositions: Set(checkpoints.map(\.size))
        )
        let expected = progress.expected
        guard expected > 1 else { return progress }
        guard let row = try await database.primary.query("SELECT hash FROM event_chain WHERE seq = \(expected - 1)").first else {
            progress.report.problem = Problem(
                position: expected - 1, kind: .missing, detail: "chain position \(expected - 1) does not exist")
            return progress
        }
        progress.previous = try row.decode("hash", as: PostgresBytes.self).bytes
        // Verification continues from a trusted head: with nothing new, that head is the answer.
        progress.report.head = AuditChain.Head(size: expected - 1, hash: Hex.encode(progress.previous))
        for position in progress.checkpointPositions where position > 0 && position < expected {
            if let row = try await database.primary.query("SELECT hash FROM event_chain WHERE seq = \(position)").first {
                progress.hashes[position] = try row.decode("hash", as: PostgresBytes.self).bytes
            }
        }
        return progress
    }

    /// Walks the positions up to `size` a page at a time (the walk stops at the first problem).
    /// The binary fast path vouches for what it can; from the first position it cannot, the text
    /// path reads the rest of the page and names the problem — or vouches itself.
    ///
    /// Pages are fixed ranges of positions. Two are fetched ahead on their own connections while
    /// this one is hashed, so both cores are busy: the database producing rows for the next
    /// pages, this process hashing the current one.
    func walkPages(through size: Int64, _ progress: inout Progress) async throws {
        let pageSize = Int64(self.pageSize)
        var nextPage = progress.expected
        var inFlight: [(start: Int64, rows: Task<PostgresBinaryRows, any Error>)] = []
        func fill() {
            while inFlight.count < Self.pagesAhead, nextPage <= size {
                inFlight.append((nextPage, fetchBinaryPage(from: nextPage)))
                nextPage += pageSize
            }
        }
        fill()
        defer { for page in inFlight { page.rows.cancel() } }
        while !inFlight.isEmpty {
            let (pageStart, pending) = inFlight.removeFirst()
            let rows = try await pending.value
            fill()
            let vouched = await Self.vouchBinary(rows, &progress)
            let pageEnd = pageStart + pageSize
            // (`>=`: the last page may hold positions sealed after `size` was read.)
            if vouched == rows.count, progress.expected >= min(pageEnd, size + 1) { continue }
            progress.report.pagesRechecked += 1
            guard try await recheckText(through: pageEnd, size: size, &progress) else { return }
        }
    }

    /// A page of chain positions `from..<before` joined to their events and personal data, in
    /// position order: the one statement both paths read pages with (`columns`:
    /// ``BinaryChainPage/columns`` for the fast path, ``textColumns`` for the text path). The
    /// LEFT JOINs keep a position whose event is gone, so the page shows it instead of skipping it.
    static func pageQuery(_ columns: String, from: Int64, before: Int64) -> PostgresQuery {
        """
        SELECT \(unescaped: columns)
        FROM event_chain c LEFT JOIN events e ON e.id = c.event_id LEFT JOIN event_personal_data p ON p.event_id = e.id
        WHERE c.seq >= \(from) AND c.seq < \(before) ORDER BY c.seq
        """
    }

    /// The text path's columns: the chain row's own, then the event's as the sealer read them.
    static let textColumns = "c.seq, c.event_id AS chained_id, c.personal_digest, c.prev_hash, c.hash, " + AuditChain.eventColumns

    /// Starts fetching the page from `start` in binary format, on a connection of its own.
    func fetchBinaryPage(from start: Int64) -> Task<PostgresBinaryRows, any Error> {
        let database = self.database
        let query = Self.pageQuery(BinaryChainPage.columns, from: start, before: start + Int64(pageSize))
        return Task {
            try await database.primary.transaction { connection in
                try Self.planned(connection) { try connection.queryBinary(query) }
            }
        }
    }

    /// The fast path over one page: how many rows, from the first, it vouches for. Each row must
    /// hash to its stored hash (``BinaryChainPage/firstUnvouched(_:count:)``), and the positions
    /// must follow each other, each naming the hash before it.
    static func vouchBinary(_ rows: PostgresBinaryRows, _ progress: inout Progress) async -> Int {
        let count = rows.count
        let unvouched = await BinaryChainPage.firstUnvouched(rows, count: count)
        let vouched = rows.withUnsafeValues { values -> Int in
            for index in 0..<min(count, unvouched) {
                guard values.integer(row: index, column: BinaryChainPage.Column.seq) == progress.expected,
                    let linked = values.value(row: index, column: BinaryChainPage.Column.previousHash),
                    linked.elementsEqual(progress.previous),
                    let stored = values.value(row: index, column: BinaryChainPage.Column.hash)
                else { return index }
                progress.previous.withUnsafeMutableBytes { $0.copyMemory(from: stored) }  // both 32 bytes
                let position = progress.expected
                if progress.checkpointPositions.contains(position) { progress.hashes[position] = progress.previous }
                progress.report.verified += 1
                progress.expected += 1
            }
            return min(count, unvouched)
        }
        // One head per page: its hex is spelled once, not per position.
        if vouched > 0 { progress.report.head = AuditChain.Head(size: progress.expected - 1, hash: Hex.encode(progress.previous)) }
        return vouched
    }

    /// Something the fast path cannot vouch for: the text path reads the page from there (and one
    /// position past it, for the reorder check) and names the problem, if any (false then).
    func recheckText(through pageEnd: Int64, size: Int64, _ progress: inout Progress) async throws -> Bool {
        let query = Self.pageQuery(Self.textColumns, from: progress.expected, before: pageEnd + 1)
        let rows = try await database.primary.transaction { connection in
            try Self.planned(connection) { try connection.query(query) }
        }
        let limit = Int(max(0, min(pageEnd, size + 1) - progress.expected))
        return try await Self.checkText(rows, limit: limit, &progress)
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

    /// An event that is neither sealed nor queued was put there behind the queue's back: the first
    /// one, named at the position it would sit (after the head when no sealed event follows it).
    func firstUnqueuedEvent(headSize: Int64) async throws -> Problem? {
        let orphans = try await database.primary.query(
            """
            SELECT e.id, (SELECT min(c.seq) FROM event_chain c WHERE c.event_id > e.id) AS position FROM events e
            WHERE NOT EXISTS (SELECT 1 FROM event_chain c WHERE c.event_id = e.id)
              AND NOT EXISTS (SELECT 1 FROM event_pending q WHERE q.event_id = e.id)
            ORDER BY e.id LIMIT 1
            """
        )
        guard let orphan = orphans.first else { return nil }
        let id: Int64 = try orphan.decode("id")
        let position: Int64 = try orphan.decodeIfPresent("position") ?? (headSize + 1)
        return Problem(position: position, kind: .inserted, detail: "event \(id) is in no chain position and not queued for sealing")
    }

    /// A sealed event (from position `from`) whose personal data is gone must be named by an
    /// erasure event (older erasures, which did not list the events, cover their users' events):
    /// the first that is not.
    func firstUnaccountedRemoval(from: Int64) async throws -> Problem? {
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
        guard let row = removed.first else { return nil }
        let id: Int64 = try row.decode("event_id")
        return Problem(
            position: try row.decode("seq"), kind: .personalDataRemoved,
            detail: "the personal data of event \(id) is gone and no erasure event accounts for it"
        )
    }

    /// Each checkpoint, in the order given, against the hashes verified at its position; the
    /// first that does not hold is the problem.
    static func check(_ checkpoints: [Checkpoint], against hashes: [Int64: [UInt8]], publicKey: [UInt8]?, _ report: inout Report) {
        for checkpoint in checkpoints {
            if let problem = checkpoint.check(against: hashes, chainSize: report.head.size, trustedKey: publicKey) {
                report.problem = problem
                return
            }
            report.checkpointsChecked += 1
        }
    }

    /// Events committed but not sealed yet, and how long the oldest has waited (a stuck sealer
    /// shows here first).
    func countPending(_ report: inout Report) async throws {
        let pendingRow = try await database.primary.query(
            """
            SELECT count(*) AS n, extract(epoch FROM now() - min(e.occurred_at))::float8 AS oldest
            FROM event_pending q JOIN events e ON e.id = q.event_id
            """
        )[0]
        report.pending = try pendingRow.decode("n")
        report.oldestPendingSeconds = try pendingRow.decodeIfPresent("oldest")
    }
}
