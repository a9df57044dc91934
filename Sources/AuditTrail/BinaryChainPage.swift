import CryptoPrimitives
import Postgres
import Support

/// The verifier's fast path: a page of chain positions in PostgreSQL's binary format, hashed
/// without making a string per field.
///
/// Both cores are busy during a verify: PostgreSQL producing rows and this process hashing them.
/// In text format the server spells every timestamp (`to_char`), uuid and bytea out, and the
/// verifier makes a `String` of each and decodes the hex back; in binary format they are copied
/// as they are stored. The canonical bytes are written straight from those values with
/// ``CanonicalEvent``'s field encoding. The fast path only *vouches* for positions: anything it
/// cannot vouch for (a hash that does not match, a deleted event, a gap, an unusual value, an
/// empty text the bytes cannot tell from NULL) is handed to the text path, which names the
/// problem — or, when there is none, vouches itself.
enum BinaryChainPage {
    static let columns = """
        c.seq, c.prev_hash, c.hash, c.personal_digest, e.id, e.occurred_at, e.actor, e.kind, e.user_id, \
        e.pool_id, e.sub, e.details, e.request_id, p.data AS personal, p.salt
        """

    enum Column {
        static let seq = 0
        static let previousHash = 1
        static let hash = 2
        static let personalDigest = 3
        static let eventID = 4
        static let occurredAt = 5
        static let actor = 6
        static let kind = 7
        static let userID = 8
        static let poolID = 9
        static let sub = 10
        static let details = 11
        static let requestID = 12
        static let personal = 13
        static let salt = 14
    }

    /// The index of the first of `count` rows the fast path cannot vouch for (`Int.max` when it
    /// vouches for all): each row's event hashes, from its *stored* previous hash, to its stored
    /// hash, and its personal data still matches the sealed digest. Runs on several cores; the
    /// caller still checks the positions are consecutive and each previous hash is the one before.
    static func firstUnvouched(_ rows: PostgresBinaryRows, count: Int) async -> Int {
        let chunk = max(256, count / 8 + 1)
        return await withTaskGroup(of: Int.self) { group in
            for start in stride(from: 0, to: count, by: chunk) {
                group.addTask {
                    rows.withUnsafeValues { values in
                        var scratch: [UInt8] = []
                        scratch.reserveCapacity(1024)
                        for row in start..<min(start + chunk, count) where !vouches(values, row: row, scratch: &scratch) {
                            return row
                        }
                        return Int.max
                    }
                }
            }
            var first = Int.max
            for await index in group { first = min(first, index) }
            return first
        }
    }

    static func vouches(_ values: PostgresBinaryRows.Values, row: Int, scratch: inout [UInt8]) -> Bool {
        guard let seq = values.integer(row: row, column: Column.seq),
            let eventID = values.integer(row: row, column: Column.eventID),
            let previous = values.value(row: row, column: Column.previousHash), previous.count == SHA256.byteCount,
            let stored = values.value(row: row, column: Column.hash), stored.count == SHA256.byteCount,
            let occurredAt = values.value(row: row, column: Column.occurredAt), occurredAt.count == 8,
            let details = values.value(row: row, column: Column.details), details.first == 1
        else { return false }
        // '' hashes as NULL does (and NULL as '' in a NOT NULL column): never vouched for here, so
        // the text path names it (``CanonicalEvent/TextColumn``).
        func ambiguous(_ column: Int, _ textColumn: CanonicalEvent.TextColumn) -> Bool {
            textColumn.isAmbiguous(byteCount: values.value(row: row, column: column)?.count)
        }
        guard !ambiguous(Column.actor, .actor), !ambiguous(Column.kind, .kind), !ambiguous(Column.poolID, .poolID),
            !ambiguous(Column.sub, .sub), !ambiguous(Column.requestID, .requestID)
        else { return false }
        let digest = values.value(row: row, column: Column.personalDigest)
        if let personal = values.value(row: row, column: Column.personal), let salt = values.value(row: row, column: Column.salt) {
            // The personal data as it is now must still be what was sealed.
            guard let digest, personal.first == 1 else { return false }
            scratch.removeAll(keepingCapacity: true)
            scratch.append(contentsOf: salt)
            scratch.append(contentsOf: personal.dropFirst())
            guard SHA256.hash(scratch).elementsEqual(digest) else { return false }
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(contentsOf: previous)
        scratch += CanonicalEvent.header
        CanonicalEvent.appendField(seq, to: &scratch)
        CanonicalEvent.appendField(eventID, to: &scratch)
        // ±infinity, and times so far out that the shift to 1970 overflows: the text path decides.
        let (unixMicros, overflow) = Int64(bigEndian: occurredAt.loadUnaligned(as: Int64.self))
            .addingReportingOverflow(PostgresBinaryRow.unixEpochOffsetMicros)
        guard !overflow, unixMicros != .max else { return false }
        var text: [UInt8] = []
        text.reserveCapacity(64)
        RFC3339.appendUTC(microsecondsSince1970: unixMicros, to: &text)
        guard text.count == 27 else { return false }  // outside four-digit years: the text path decides
        text.withUnsafeBytes { CanonicalEvent.appendField($0, to: &scratch) }
        func textField(_ column: Int) {
            CanonicalEvent.appendField(values.value(row: row, column: column) ?? UnsafeRawBufferPointer(start: nil, count: 0), to: &scratch)
        }
        textField(Column.actor)
        textField(Column.kind)
        if let user = values.value(row: row, column: Column.userID) {
            guard user.count == 16 else { return false }
            text.removeAll(keepingCapacity: true)
            for (index, byte) in user.enumerated() {
                if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
                Hex.appendEncoded(byte, to: &text)
            }
            text.withUnsafeBytes { CanonicalEvent.appendField($0, to: &scratch) }
        } else {
            textField(Column.userID)
        }
        textField(Column.poolID)
        textField(Column.sub)
        CanonicalEvent.appendField(UnsafeRawBufferPointer(rebasing: details.dropFirst()), to: &scratch)
        textField(Column.requestID)
        text.removeAll(keepingCapacity: true)
        if let digest { for byte in digest { Hex.appendEncoded(byte, to: &text) } }
        text.withUnsafeBytes { CanonicalEvent.appendField($0, to: &scratch) }
        return SHA256.hash(scratch).elementsEqual(stored)
    }
}
