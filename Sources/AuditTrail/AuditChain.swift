import CryptoPrimitives
import Foundation
public import IdentityMap
import Postgres
import Support

/// Seals committed events into the hash chain, and recomputes the chain to verify it.
public struct AuditChain: Sendable {
    public let database: Database
    static let sealLockKey: Int64 = 0x5374_6162_6c65_01

    public init(database: Database) {
        self.database = database
    }

    /// The columns both the sealer and the verifier read, formatted by PostgreSQL so the bytes do
    /// not depend on any client's number or date formatting. Text columns come as stored, NULL as
    /// NULL (the bytes write both NULL and '' as the empty field; the verifier tells them apart:
    /// ``CanonicalEvent/TextColumn``).
    static let eventColumns = """
        e.id, to_char(e.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
        e.actor, e.kind, coalesce(e.user_id::text, '') AS user_id, e.pool_id, e.sub, e.details::text AS details, e.request_id,
        p.data::text AS personal, p.salt AS salt
        """

    /// What one sealing pass did.
    public struct SealProgress: Sendable, Equatable {
        public var sealed: Int
        /// More events were queued than one pass takes: call again at once instead of waiting.
        public var moreWaiting: Bool
    }

    /// Events sealed per transaction: large enough that sealing outpaces writers, small enough
    /// that one pass holds its advisory lock for well under a second.
    public static let batchSize = 5_000

    /// Seals one batch of queued events (or nothing, when another sealer holds the lock).
    public func sealPending() async throws -> SealProgress {
        let sealed = try await seal(limit: Self.batchSize)
        return SealProgress(sealed: sealed, moreWaiting: sealed == Self.batchSize)
    }

    /// Seals until nothing committed is left in the queue; returns how many were sealed.
    public func sealAll() async throws -> Int {
        var total = 0
        while true {
            let progress = try await sealPending()
            total += progress.sealed
            if !progress.moreWaiting { return total }
        }
    }

    /// Appends up to `limit` queued events to the chain. Only one sealer runs at a time (an
    /// advisory lock); others return 0 at once. Returns how many were sealed.
    @discardableResult
    public func seal(limit: Int = batchSize) async throws -> Int {
        try await database.primary.transaction { connection in
            try Self.seal(limit: limit, on: connection)
        }
    }

    static func seal(limit: Int, on connection: PostgresConnection) throws -> Int {
        let locked: Bool = try connection.query("SELECT pg_try_advisory_xact_lock(\(sealLockKey)) AS ok")[0].decode("ok")
        guard locked else { return 0 }
        let head = try connection.query("SELECT seq, hash FROM event_chain ORDER BY seq DESC LIMIT 1").first
        var seq: Int64 = try head?.decode("seq") ?? 0
        var previous: [UInt8] = try head.map { try $0.decode("hash", as: PostgresBytes.self).bytes } ?? CanonicalEvent.genesis
        let rows = try connection.query(
            """
            SELECT \(unescaped: eventColumns)
            FROM event_pending q JOIN events e ON e.id = q.event_id LEFT JOIN event_personal_data p ON p.event_id = e.id
            ORDER BY e.id LIMIT \(limit)
            """
        )
        guard !rows.isEmpty else { return 0 }
        var chainRows: [[String?]] = []
        var sealedIDs: [Int64] = []
        let columns = try Columns(rows)
        for row in rows {
            seq += 1
            var event = try columns.canonical(row, seq: seq)
            event.personalDigest = try columns.currentPersonalDigest(row)
            let hash = event.chainHash(previous: previous)
            chainRows.append([
                String(seq), String(event.eventID), event.personalDigest.map { PostgresBytes($0).postgresText! },
                PostgresBytes(previous).postgresText, PostgresBytes(hash).postgresText,
            ])
            sealedIDs.append(event.eventID)
            previous = hash
        }
        try connection.copyFrom("COPY event_chain (seq, event_id, personal_digest, prev_hash, hash) FROM STDIN", rows: chainRows)
        try connection.execute("DELETE FROM event_pending WHERE event_id = ANY(\(PostgresArray(sealedIDs.map { String($0) }))::bigint[])")
        return rows.count
    }

    /// Column positions of `eventColumns`, resolved once per result instead of once per field.
    struct Columns {
        let id, occurredAt, actor, kind, userID, poolID, sub, details, requestID, personal, salt: Int

        init(_ rows: PostgresRows) throws {
            func index(_ name: String) throws -> Int {
                guard let index = rows.columnIndex(name) else { throw PostgresError(kind: .decoding, message: "no column \(name)") }
                return index
            }
            id = try index("id")
            occurredAt = try index("occurred_at")
            actor = try index("actor")
            kind = try index("kind")
            userID = try index("user_id")
            poolID = try index("pool_id")
            sub = try index("sub")
            details = try index("details")
            requestID = try index("request_id")
            personal = try index("personal")
            salt = try index("salt")
        }

        func canonical(_ row: PostgresRow, seq: Int64) throws -> CanonicalEvent {
            CanonicalEvent(
                seq: seq,
                eventID: try row.decode(at: id),
                occurredAt: row.text(at: occurredAt) ?? "",
                actor: row.text(at: actor) ?? "",
                kind: row.text(at: kind) ?? "",
                userID: row.text(at: userID) ?? "",
                poolID: row.text(at: poolID) ?? "",
                sub: row.text(at: sub) ?? "",
                details: row.text(at: details) ?? "",
                requestID: row.text(at: requestID) ?? "",
                personalDigest: nil
            )
        }

        /// The values of the row's event its canonical bytes cannot vouch for (`sub = ''`, …): empty
        /// for every event StableID writes. Only for a row whose event exists.
        func ambiguousValues(_ row: PostgresRow) -> [String] {
            CanonicalEvent.ambiguousValues(
                actor: row.text(at: actor), kind: row.text(at: kind), poolID: row.text(at: poolID), sub: row.text(at: sub),
                requestID: row.text(at: requestID)
            )
        }

        /// The digest of the personal data as it is now (nil when there is none, e.g. erased).
        func currentPersonalDigest(_ row: PostgresRow) throws -> [UInt8]? {
            guard let data = row.text(at: personal), let saltText = row.text(at: salt) else { return nil }
            return CanonicalEvent.personalDigest(salt: try PostgresBytes(postgresText: saltText).bytes, data: data)
        }
    }

    /// The sealed head: how many events the chain holds and the hash of the last.
    public struct Head: Sendable, Equatable, Codable {
        public var size: Int64
        public var hash: String

        public init(size: Int64, hash: String) {
            self.size = size
            self.hash = hash
        }
    }

    public func head() async throws -> Head {
        try await database.primary.withConnection { connection in
            guard let row = try connection.query("SELECT seq, hash FROM event_chain ORDER BY seq DESC LIMIT 1").first else {
                return Head(size: 0, hash: Hex.encode(CanonicalEvent.genesis))
            }
            return Head(size: try row.decode("seq"), hash: Hex.encode(try row.decode("hash", as: PostgresBytes.self).bytes))
        }
    }
}
