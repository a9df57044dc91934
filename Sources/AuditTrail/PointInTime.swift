public import Foundation
public import IdentityMap
import Postgres

/// Who a `(pool, sub)` belonged to at a time T, and what a user was at T: auditors' questions
/// about the past (`?at=T`).
///
/// The tables hold only the present; the past is in the events, so every answer here comes from
/// them alone. "At T" means the events with `occurred_at` ≤ T, read in id order and interpreted
/// by ``StateReplay`` — the rules `audit verify --state` replays the whole history with, so both
/// read each kind the same way. Only the events that can change an answer are read, each through
/// an index:
///
/// - The identity's own events (`events_pool_sub`). Its last `identity_linked` at or before T
///   names the user it was linked to; unlinks and status changes after it give its state. None:
///   the map did not know it at T (nil — not the same as unlinked at T, which is an answer).
/// - The merges of that user after the link. A merge moves all of a user's identities to the
///   survivor and repoints the users merged into it before; an unmerge moves exactly those back.
///   So at T the identity sits with the person its linked user was at T, found in hops: the
///   user's newest `user_merged` at or before T (`events_merged_from`, sql/0019); if the user's
///   first `user_unmerged` after it (`events_user`) also came by T, the user was itself again;
///   otherwise the survivor's merges after that one decide, and so on. A survivor is active when
///   it survives, so each hop's merge is newer than the one before and the walk ends; it is
///   bounded by ``maxHops`` all the same. Merges undone earlier are skipped: each moved the
///   identity away and its unmerge moved it back.
///
/// Cost: one index scan of the identity's events, then two index probes per hop (none for a user
/// never merged). A user at T adds one probe for its creation, one scan of the person's own
/// events, and one identity answer per identity the person ever received. All statements of an
/// answer read one snapshot on the reader. T in the future answers as now.
///
/// Personal data is never part of these answers: usernames and emails of past events live in
/// `event_personal_data`, which an erasure deletes, and an answer about the past must not bring
/// back, or depend on, what was erased.
public struct PointInTime: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// A longer chain of merges than this is no history StableID's writers make.
    static let maxHops = 64

    /// An identity as the events left it at T.
    public struct IdentityAt: Sendable, Equatable {
        public var pool: PoolID
        public var sub: String
        /// Linked, unlinked or deleted at T (active and disabled are not told apart: an import
        /// records a disabled Cognito user with the same `identity_linked` event).
        public var state: StateReplay.LinkState
        /// The person holding it at T: ``linkedTo`` followed through the merges in effect at T.
        public var userID: UUID
        /// The user its last link at or before T named.
        public var linkedTo: UUID
        /// When that link was made.
        public var linkedAt: Date
        /// How that link was made (`details.via`); nil on events that predate the field.
        public var via: String?
        public var provider: String?
        /// The last event at or before T that changed who held it or its state.
        public var decidedBy: Int64
    }

    /// A user as the events left it at T. A user merged at T answers as its survivor, as the
    /// present-day lookup does.
    public struct UserAt: Sendable, Equatable {
        /// The person at T: the user asked for, or the survivor it was merged into at T.
        public var userID: UUID
        /// The user asked for, when it was merged into ``userID`` at T.
        public var requestedID: UUID?
        /// When ``userID`` was created (its `user_created` event).
        public var createdAt: Date
        /// The identities ``userID`` held at T, oldest link first.
        public var identities: [IdentityAt]
        /// The event that decided whom the asked ID was at T: its creation, the merge in effect,
        /// or the unmerge that undid its last merge.
        public var decidedBy: Int64
    }

    /// The identity `reference` names as it stood at `at`; nil when the map did not know it then
    /// (no link at or before `at`, or no registered pool has that issuer).
    public func resolve(_ reference: IdentityReference, at: Date) async throws -> IdentityAt? {
        try await read { connection in
            guard let key = try Self.key(reference, on: connection) else { return nil }
            return try Self.identity(key, at: at, on: connection)
        }
    }

    public func resolve(pool: PoolID, sub: String, at: Date) async throws -> IdentityAt? {
        try await resolve(.pool(pool, sub: sub), at: at)
    }

    /// The user `id` as it stood at `at`; nil when it did not exist yet.
    public func user(id: UUID, at: Date) async throws -> UserAt? {
        try await read { connection in try Self.user(id, at: at, on: connection) }
    }

    /// One snapshot for every statement of an answer: events appended meanwhile (with T in the
    /// future they would count) cannot make its parts disagree.
    private func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) throws -> T) async throws -> T {
        try await database.reader.withConnection { connection in
            try connection.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            defer { _ = try? connection.execute("ROLLBACK") }
            return try body(connection)
        }
    }

    static func key(_ reference: IdentityReference, on connection: PostgresConnection) throws -> IdentityKey? {
        switch reference {
        case .pool(let pool, let sub):
            return IdentityKey(pool: pool, sub: sub)
        case .issuer(let issuer, let sub):
            // Which pool an issuer names is configuration, not history: pools are never removed.
            guard let row = try connection.query("SELECT id FROM pools WHERE issuer = \(Pool.normalizeIssuer(issuer))").first,
                let pool = PoolID(try row.decode("id", as: String.self))
            else { return nil }
            return IdentityKey(pool: pool, sub: sub)
        }
    }

    static func identity(_ key: IdentityKey, at: Date, on connection: PostgresConnection) throws -> IdentityAt? {
        let own = try Event.ofIdentity(key, at: at, on: connection)
        guard let link = own.last(where: { $0.kind == EventKind.identityLinked.rawValue }), let linkedTo = link.userID else {
            return nil
        }
        let hops = try person(of: linkedTo, after: link.id, at: at, on: connection)
        var replay = StateReplay()
        for event in (own + hops.events).sorted(by: { $0.id < $1.id }) {
            replay.apply(id: event.id, kind: event.kind, userID: event.userID, key: event.key, details: event.details)
        }
        guard let implied = replay.identities[key] else { return nil }
        return IdentityAt(
            pool: key.pool, sub: key.sub, state: implied.state, userID: implied.owner, linkedTo: linkedTo, linkedAt: link.occurredAt,
            via: link.details["via"]?.stringValue, provider: link.details["provider"]?.stringValue, decidedBy: implied.lastEvent
        )
    }

    /// Whom `user` was at `at` — itself, or the survivor it was merged into — judged from the
    /// merges after event `start`, when the user is known to have been active (just created,
    /// linked to, or surviving a merge); with the events that decided it, oldest first.
    static func person(
        of user: UUID, after start: Int64, at: Date, on connection: PostgresConnection
    ) throws -> (person: UUID, events: [Event]) {
        var current = user
        var after = start
        var events: [Event] = []
        for _ in 0..<maxHops {
            guard let merge = try Event.lastMerge(of: current, after: after, at: at, on: connection) else { return (current, events) }
            events.append(merge)
            // Only the merge in effect can be undone: the first unmerge after it undoes it.
            if let unmerge = try Event.firstUnmerge(of: current, after: merge.id, at: at, on: connection) {
                events.append(unmerge)
                return (current, events)
            }
            guard let survivor = merge.details["survivor"]?.stringValue.flatMap(UUID.init) else {
                throw PostgresError(kind: .decoding, message: "merge event \(merge.id) names no survivor")
            }
            current = survivor
            after = merge.id
        }
        throw PostgresError(kind: .decoding, message: "user \(user) is merged through more than \(maxHops) users at one time")
    }

    static func user(_ id: UUID, at: Date, on connection: PostgresConnection) throws -> UserAt? {
        guard let created = try Event.creation(of: id, at: at, on: connection) else { return nil }
        let walk = try person(of: id, after: created.id, at: at, on: connection)
        var personCreated = created
        if walk.person != id {
            guard let survivorCreated = try Event.creation(of: walk.person, at: at, on: connection) else {
                throw PostgresError(kind: .decoding, message: "user \(walk.person) survives a merge but was never created")
            }
            personCreated = survivorCreated
        }
        var identities: [IdentityAt] = []
        for key in try Event.keysReceived(by: walk.person, at: at, on: connection) {
            // It may have moved on since: relinked elsewhere, or given back by an unmerge.
            if let held = try Self.identity(key, at: at, on: connection), held.userID == walk.person {
                identities.append(held)
            }
        }
        identities.sort { ($0.linkedAt, $0.pool.rawValue, $0.sub) < ($1.linkedAt, $1.pool.rawValue, $1.sub) }
        return UserAt(
            userID: walk.person, requestedID: walk.person == id ? nil : id, createdAt: personCreated.occurredAt, identities: identities,
            decidedBy: walk.events.last?.id ?? created.id
        )
    }
}
