import Postgres
import Support

/// The verifier's text path: rows as PostgreSQL spells them (the texts the sealer hashed), read
/// from the first position the binary fast path could not vouch for. Slower, but it names what
/// is wrong — a deletion, a swap, an edit, a rewrite — or, when nothing is, vouches itself.
extension ChainVerifier {
    /// Column positions of the text path's rows (``ChainVerifier/textColumns``), resolved once per
    /// page.
    struct TextColumns {
        let event: AuditChain.Columns
        let seq, chainedID, personalDigest, previousHash, hash: Int

        init(_ rows: PostgresRows) throws {
            event = try AuditChain.Columns(rows)
            guard let seq = rows.columnIndex("seq"), let chainedID = rows.columnIndex("chained_id"),
                let personalDigest = rows.columnIndex("personal_digest"), let previousHash = rows.columnIndex("prev_hash"),
                let hash = rows.columnIndex("hash")
            else { throw PostgresError(kind: .decoding, message: "chain columns missing") }
            self.seq = seq
            self.chainedID = chainedID
            self.personalDigest = personalDigest
            self.previousHash = previousHash
            self.hash = hash
        }

        /// The personal digest sealed with the row's event (nil when it named no personal data).
        func sealedDigest(_ row: PostgresRow) throws -> [UInt8]? {
            try row.text(at: personalDigest).map { try PostgresBytes(postgresText: $0).bytes }
        }
    }

    /// What the text path finds at a row it checks on its own.
    enum RowVerdict {
        /// The row hashes and links: its hash, as bytes and as PostgreSQL spells it (`\x…`).
        case intact(hash: [UInt8], hashText: String)
        case broken(Problem)
    }

    /// The index of the first row whose event is gone, holds a value its bytes cannot vouch for
    /// (`sub = ''`: ``CanonicalEvent/TextColumn``) or does not hash, from its stored previous hash,
    /// to its stored hash (`Int.max` when all do). Runs on several cores.
    static func firstSuspect(rows: PostgresRows, count: Int, columns: TextColumns) async -> Int {
        let chunk = max(256, count / 8 + 1)
        return await withTaskGroup(of: Int.self) { group in
            for start in stride(from: 0, to: count, by: chunk) {
                group.addTask {
                    for index in start..<min(start + chunk, count) {
                        let row = rows[index]
                        guard row.text(at: columns.event.id) != nil, let previousText = row.text(at: columns.previousHash),
                            let storedText = row.text(at: columns.hash),
                            let previous = try? PostgresBytes(postgresText: previousText).bytes,
                            let seq: Int64 = try? row.decode(at: columns.seq), var event = try? columns.event.canonical(row, seq: seq)
                        else { return index }
                        if !columns.event.ambiguousValues(row).isEmpty { return index }
                        event.personalDigest = row.text(at: columns.personalDigest).flatMap { try? PostgresBytes(postgresText: $0).bytes }
                        if let current = try? columns.event.currentPersonalDigest(row), current != event.personalDigest { return index }
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

    /// The text path: checks up to `limit` positions from `progress.expected` and names the first
    /// problem (false when it found one). The positions after the first that does not hash are
    /// walked one by one, so a problem is told apart from a reorder and a rewrite; one row past
    /// `limit`, when there is one, lets the reorder check see the next position.
    static func checkText(_ rows: PostgresRows, limit: Int, _ progress: inout Progress) async throws -> Bool {
        guard limit > 0 else { return true }
        if rows.isEmpty {
            progress.report.problem = Problem(
                position: progress.expected, kind: .missing, detail: "chain position \(progress.expected) is missing")
            return false
        }
        let columns = try TextColumns(rows)
        let count = min(rows.count, limit)
        let firstSuspect = await Self.firstSuspect(rows: rows, count: count, columns: columns)
        var previousText = "\\x" + Hex.encode(progress.previous)
        defer { progress.previous = (try? PostgresBytes(postgresText: previousText).bytes) ?? progress.previous }
        for (index, row) in rows.prefix(count).enumerated() {
            let seq: Int64 = try row.decode(at: columns.seq)
            guard seq == progress.expected else {
                progress.report.problem = Problem(
                    position: progress.expected, kind: .missing, detail: "chain position \(progress.expected) is missing (next is \(seq))")
                return false
            }
            // Hashed in bulk by `firstSuspect` and linked to the position before: its stored hash stands.
            if index < firstSuspect, row.text(at: columns.previousHash) == previousText, let storedText = row.text(at: columns.hash) {
                try progress.accept(seq, hashText: storedText) { try PostgresBytes(postgresText: storedText).bytes }
                previousText = storedText
                continue
            }
            switch try recheck(rows, at: index, seq: seq, previousText: previousText, columns: columns) {
            case .broken(let problem):
                progress.report.problem = problem
                return false
            case .intact(let hash, let hashText):
                progress.accept(seq, hashText: hashText) { hash }
                previousText = hashText
            }
        }
        if count < limit, progress.report.problem == nil {
            // The page ends before its range does: the positions after the last one are gone.
            progress.report.problem = Problem(
                position: progress.expected, kind: .missing, detail: "chain position \(progress.expected) is missing")
            return false
        }
        return true
    }

    /// One row checked on its own, from the hash before it, naming what is wrong: its event
    /// deleted, swapped with the next position's, its personal data or its content changed, the
    /// chain rewritten there, or a value its bytes cannot vouch for.
    static func recheck(_ rows: PostgresRows, at index: Int, seq: Int64, previousText: String, columns: TextColumns) throws -> RowVerdict {
        let row = rows[index]
        let previous = try PostgresBytes(postgresText: previousText).bytes
        let chainedID: Int64 = try row.decode(at: columns.chainedID)
        guard row.text(at: columns.event.id) != nil else {
            return .broken(Problem(position: seq, kind: .missing, detail: "event \(chainedID) sealed at position \(seq) was deleted"))
        }
        let storedText = row.text(at: columns.hash) ?? ""
        var event = try columns.event.canonical(row, seq: seq)
        event.personalDigest = try columns.sealedDigest(row)
        let personalIntact = try columns.event.currentPersonalDigest(row).map { $0 == event.personalDigest } ?? true
        let computed = event.chainHash(previous: previous)
        let computedText = "\\x" + Hex.encode(computed)
        let linked = row.text(at: columns.previousHash) == previousText
        guard personalIntact, linked, computedText == storedText else {
            if try swappedWithNext(rows, at: index, seq: seq, previous: previous, storedText: storedText, columns: columns) {
                return .broken(
                    Problem(position: seq, kind: .reordered, detail: "the events at positions \(seq) and \(seq + 1) were swapped"))
            }
            let detail =
                !personalIntact
                ? "personal data of event \(chainedID) was modified"
                : linked
                    ? "event \(chainedID) differs from what was sealed"
                    : "the chain was rewritten at this position"
            return .broken(Problem(position: seq, kind: .modified, detail: detail))
        }
        // It hashes, but through a value the bytes write as they write another ('' as NULL).
        let ambiguous = columns.event.ambiguousValues(row)
        guard ambiguous.isEmpty else {
            return .broken(Problem(position: seq, kind: .modified, detail: CanonicalEvent.ambiguityDetail(eventID: chainedID, ambiguous)))
        }
        return .intact(hash: computed, hashText: computedText)
    }

    /// Whether the next row's event, hashed at this position, gives this position's stored hash:
    /// then two events changed places, rather than one being edited.
    static func swappedWithNext(
        _ rows: PostgresRows, at index: Int, seq: Int64, previous: [UInt8], storedText: String, columns: TextColumns
    ) throws -> Bool {
        guard index + 1 < rows.count, rows[index + 1].text(at: columns.event.id) != nil else { return false }
        var neighbour = try columns.event.canonical(rows[index + 1], seq: seq)
        neighbour.personalDigest = try columns.event.currentPersonalDigest(rows[index + 1]) ?? columns.sealedDigest(rows[index + 1])
        return "\\x" + Hex.encode(neighbour.chainHash(previous: previous)) == storedText
    }
}
