public import Foundation
public import IdentityMap
import Postgres

/// `stableid audit verify --state`: replays the event history into the identity map it implies
/// and compares it with the tables, naming every difference. The chain proves the events were not
/// rewritten; this proves the present state follows from them (a row changed without an event,
/// say an identity re-keyed to another person by a direct UPDATE, shows up here).
///
/// Events are read in id order a page at a time; the implied map is held in memory (about one
/// entry per identity and user), then the tables are read a page at a time and checked off.
public struct StateVerifier: Sendable {
    public let database: Database
    let pageSize: Int

    public init(database: Database, pageSize: Int = 20_000) {
        self.database = database
        self.pageSize = pageSize
    }

    public struct Report: Sendable, Codable {
        public var eventsReplayed: Int
        public var usersChecked: Int
        public var identitiesChecked: Int
        public var mismatches: [StateReplay.Mismatch]

        enum CodingKeys: String, CodingKey {
            case mismatches
            case eventsReplayed = "events_replayed"
            case usersChecked = "users_checked"
            case identitiesChecked = "identities_checked"
        }
    }

    public func verify() async throws -> Report {
        let pageSize = self.pageSize
        // One snapshot for events and tables alike, so writes racing the check cannot look like tampering.
        return try await database.primary.withConnection { connection in
            try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            defer { _ = try? connection.execute("ROLLBACK") }
            var replay = StateReplay()
            let replayed = try Self.replayEvents(into: &replay, pageSize: pageSize, on: connection)
            var mismatches: [StateReplay.Mismatch] = []
            let identities = try Self.checkIdentities(against: &replay, pageSize: pageSize, into: &mismatches, on: connection)
            let users = try Self.checkUsers(against: &replay, pageSize: pageSize, into: &mismatches, on: connection)
            mismatches += replay.leftovers()
            return Report(eventsReplayed: replayed, usersChecked: users, identitiesChecked: identities, mismatches: mismatches)
        }
    }

    /// Replays every event that shapes the map, in order, a page at a time. Returns how many.
    static func replayEvents(into replay: inout StateReplay, pageSize: Int, on connection: PostgresConnection) throws -> Int {
        let kinds = PostgresArray(StateReplay.kinds.map(\.rawValue))
        let detailed = PostgresArray(StateReplay.kindsReadingDetails.map(\.rawValue))
        let decoder = JSONDecoder()
        var replayed = 0
        var after: Int64 = 0
        while true {
            let rows = try connection.query(
                """
                SELECT id, kind, user_id, pool_id, sub,
                       CASE WHEN kind = ANY(\(detailed)::text[]) THEN details::text END AS details
                FROM events
                WHERE id > \(after) AND kind = ANY(\(kinds)::text[]) ORDER BY id LIMIT \(pageSize)
                """
            )
            for row in rows {
                let id: Int64 = try row.decode("id")
                let pool = try row.decodeIfPresent("pool_id", as: String.self).flatMap(PoolID.init)
                let sub: String? = try row.decodeIfPresent("sub")
                // Most events are creations and links, whose subject columns say everything:
                // only the kinds that need their details pay for parsing them.
                let details =
                    try row.decodeIfPresent("details", as: String.self).map {
                        try decoder.decode(JSONValue.self, from: Data($0.utf8))
                    } ?? .null
                replay.apply(
                    id: id, kind: try row.decode("kind"), userID: try row.decodeIfPresent("user_id"),
                    key: pool.flatMap { pool in sub.map { IdentityKey(pool: pool, sub: $0) } }, details: details
                )
                after = id
            }
            replayed += rows.count
            if rows.count < pageSize { return replayed }
        }
    }

    /// Every identity row against what the events imply, checked off in `replay` (what is left
    /// over there afterwards is missing from the tables). Returns how many rows were read.
    static func checkIdentities(
        against replay: inout StateReplay, pageSize: Int, into mismatches: inout [StateReplay.Mismatch], on connection: PostgresConnection
    ) throws -> Int {
        var identities = 0
        var lastID: Int64 = 0
        while true {
            let rows = try connection.query(
                "SELECT id, pool_id, sub, user_id, status FROM identities WHERE id > \(lastID) ORDER BY id LIMIT \(pageSize)"
            )
            for row in rows {
                lastID = try row.decode("id")
                guard let pool = PoolID(try row.decode("pool_id", as: String.self)),
                    let status = IdentityStatus(rawValue: try row.decode("status"))
                else { continue }
                if let mismatch = replay.check(
                    identity: IdentityKey(pool: pool, sub: try row.decode("sub")), owner: try row.decode("user_id"), status: status
                ) {
                    mismatches.append(mismatch)
                }
            }
            identities += rows.count
            if rows.count < pageSize { return identities }
        }
    }

    /// Every user row's merge against what the events imply. Returns how many rows were read.
    static func checkUsers(
        against replay: inout StateReplay, pageSize: Int, into mismatches: inout [StateReplay.Mismatch], on connection: PostgresConnection
    ) throws -> Int {
        var users = 0
        var lastUser = "00000000-0000-0000-0000-000000000000"
        while true {
            let rows = try connection.query(
                "SELECT id, merged_into FROM users WHERE id > \(lastUser)::uuid ORDER BY id LIMIT \(pageSize)"
            )
            for row in rows {
                let id: UUID = try row.decode("id")
                lastUser = id.uuidString.lowercased()
                if let mismatch = replay.check(user: id, mergedInto: try row.decodeIfPresent("merged_into")) {
                    mismatches.append(mismatch)
                }
            }
            users += rows.count
            if rows.count < pageSize { return users }
        }
    }
}
