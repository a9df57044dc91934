import Foundation
import IdentityMap
import Postgres

extension PointInTime {
    /// One event that shapes the map, with what ``StateReplay`` reads of it and its time.
    struct Event: Sendable {
        var id: Int64
        var occurredAt: Date
        var kind: String
        var userID: UUID?
        var key: IdentityKey?
        var details: JSONValue

        static let columns = "id, occurred_at, kind, user_id, pool_id, sub, details::text AS details"

        static func decode(_ row: PostgresRow) throws -> Event {
            let pool = try row.decodeIfPresent("pool_id", as: String.self).flatMap(PoolID.init)
            let sub: String? = try row.decodeIfPresent("sub")
            let details = try JSONDecoder().decode(JSONValue.self, from: Data(try row.decode("details", as: String.self).utf8))
            return Event(
                id: try row.decode("id"), occurredAt: try row.decode("occurred_at"), kind: try row.decode("kind"),
                userID: try row.decodeIfPresent("user_id"), key: pool.flatMap { pool in sub.map { IdentityKey(pool: pool, sub: $0) } },
                details: details
            )
        }

        /// The events ``StateReplay`` reads; an identity's own are the ones of them filed under
        /// its `(pool, sub)` (links, unlinks, status changes), a user's own those filed under it.
        static var replayedKinds: PostgresArray<String> { PostgresArray(StateReplay.kinds.map(\.rawValue)) }

        /// Events (and bounds) before 1970 do not exist; a bound there is moved up to it, because
        /// PostgreSQL refuses some times RFC 3339 can spell (the year 0).
        static func bound(_ at: Date) -> Date { max(at, Date(timeIntervalSince1970: 0)) }

        /// The identity's own events at or before `at`, oldest first (`events_pool_sub`).
        static func ofIdentity(_ key: IdentityKey, at: Date, on connection: PostgresConnection) throws -> [Event] {
            try connection.query(
                """
                SELECT \(unescaped: columns) FROM events
                WHERE pool_id = \(key.pool.rawValue) AND sub = \(key.sub) AND kind = ANY(\(replayedKinds)::text[])
                  AND occurred_at <= \(bound(at))::timestamptz
                ORDER BY id
                """
            ).map(decode)
        }

        /// The newest merge of `user` into another user after event `after` and at or before `at`
        /// (`events_merged_from`: its predicate needs the kind as a literal, not a bind).
        static func lastMerge(of user: UUID, after: Int64, at: Date, on connection: PostgresConnection) throws -> Event? {
            try connection.query(
                """
                SELECT \(unescaped: columns) FROM events
                WHERE kind = 'user_merged' AND details->>'from' = \(user.uuidString.lowercased())
                  AND id > \(after) AND occurred_at <= \(bound(at))::timestamptz
                ORDER BY id DESC LIMIT 1
                """
            ).first.map(decode)
        }

        /// The first unmerge of `user` after event `after` and at or before `at` (`events_user`:
        /// an unmerge is filed under the user it restores).
        static func firstUnmerge(of user: UUID, after: Int64, at: Date, on connection: PostgresConnection) throws -> Event? {
            try connection.query(
                """
                SELECT \(unescaped: columns) FROM events
                WHERE user_id = \(user) AND kind = 'user_unmerged' AND id > \(after) AND occurred_at <= \(bound(at))::timestamptz
                ORDER BY id LIMIT 1
                """
            ).first.map(decode)
        }

        /// The user's `user_created` event, if it came at or before `at` (`events_user`).
        static func creation(of user: UUID, at: Date, on connection: PostgresConnection) throws -> Event? {
            try connection.query(
                """
                SELECT \(unescaped: columns) FROM events
                WHERE user_id = \(user) AND kind = 'user_created' AND occurred_at <= \(bound(at))::timestamptz
                ORDER BY id LIMIT 1
                """
            ).first.map(decode)
        }

        /// Every identity `user` ever received at or before `at`, in the order it first did: linked
        /// to it, moved to it by a merge into it (which lists what it moved, also what the merged
        /// user had received by merges before), or given back to it by an unmerge (`events_user`).
        static func keysReceived(by user: UUID, at: Date, on connection: PostgresConnection) throws -> [IdentityKey] {
            let events = try connection.query(
                """
                SELECT \(unescaped: columns) FROM events
                WHERE user_id = \(user) AND kind = ANY(\(replayedKinds)::text[]) AND occurred_at <= \(bound(at))::timestamptz
                ORDER BY id
                """
            ).map(decode)
            var seen = Set<IdentityKey>()
            var keys: [IdentityKey] = []
            for event in events {
                let received =
                    (event.key.map { [$0] } ?? []) + StateReplay.keys(event.details["moved_identities"])
                    + StateReplay.keys(event.details["restored_identities"])
                for key in received where seen.insert(key).inserted { keys.append(key) }
            }
            return keys
        }
    }
}
