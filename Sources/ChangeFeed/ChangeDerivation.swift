public import Foundation
public import IdentityMap

/// The feed is derived from the audit events (one truth): this says which events are changes a
/// backend acts on, and what each says, reading only the event's subject columns and the
/// non-personal keys of its details (`EventDetails`). Pure: tested without a database.
///
/// | event | change |
/// | --- | --- |
/// | `identity_linked` | `identity.linked`; `identity.moved` when `details.relinked_from` names another user |
/// | `identity_unlinked` | `identity.unlinked` |
/// | `identity_status_changed` | by `details.to`: `disabled` → `identity.disabled`, `active` → `identity.enabled`, `deleted` → `identity.deleted`, `unlinked` → `identity.unlinked` |
/// | `user_merged` | `user.merged` |
/// | `user_unmerged` | `user.unmerged` |
/// | `personal_data_erased` | `user.erased` |
///
/// An import is one `identity_linked` event per identity (`EventLog.appendAll`), so it is one
/// `identity.linked` change per identity. `user_created` is left out: a person appears with their
/// first identity. StableID has no disabled *person*: disabling is Cognito's, per pool user, so
/// it is an identity's change.
public enum ChangeDerivation {
    /// The event kinds the feed carries. sql/0022's trigger queues exactly these (a test holds the
    /// two lists equal).
    public static let sourceKinds: [EventKind] = [
        .identityLinked, .identityUnlinked, .identityStatusChanged, .userMerged, .userUnmerged, .personalDataErased,
    ]

    /// One row of `change_feed` with the event it names.
    public struct Row: Sendable {
        public var position: Int64
        public var publishedAt: Date
        public var eventID: Int64
        public var kind: String
        public var occurredAt: Date
        public var userID: UUID?
        public var pool: String?
        public var sub: String?
        public var details: JSONValue
        /// The row's ``FeedCursor/check``, carried into its change.
        public var check: UInt32?

        public init(
            position: Int64, publishedAt: Date, eventID: Int64, kind: String, occurredAt: Date, userID: UUID?, pool: String?,
            sub: String?, details: JSONValue
        ) {
            self.position = position
            self.publishedAt = publishedAt
            self.eventID = eventID
            self.kind = kind
            self.occurredAt = occurredAt
            self.userID = userID
            self.pool = pool
            self.sub = sub
            self.details = details
        }
    }

    /// The keys of an event's details that ``change(from:)`` reads; the feed's page query hands
    /// over only these (a test holds this list to what the derivation reads).
    public static let detailKeys = [
        "relinked_from", "from", "to", "users", "survivor", "repointed_users", "moved_identities", "restored_identities",
    ]

    /// The change `row` makes, or nil when it makes none a backend acts on: another kind, a status
    /// "change" to the same status, or an event missing what its kind must name (never written by
    /// StableID; skipped rather than answered half).
    public static func change(from row: Row) -> FeedChange? {
        switch EventKind(rawValue: row.kind) {
        case .identityLinked:
            guard var change = identityChange(.identityLinked, row) else { return nil }
            if let previous = uuid(row.details["relinked_from"]), previous != row.userID {
                change.kind = .identityMoved
                change.fromUserID = previous
                change.toUserID = row.userID
            }
            return change
        case .identityUnlinked:
            return identityChange(.identityUnlinked, row)
        case .identityStatusChanged:
            guard let to = row.details["to"]?.stringValue, to != row.details["from"]?.stringValue else { return nil }
            switch IdentityStatus(rawValue: to) {
            case .disabled: return identityChange(.identityDisabled, row)
            case .active: return identityChange(.identityEnabled, row)
            case .deleted: return identityChange(.identityDeleted, row)
            case .unlinked: return identityChange(.identityUnlinked, row)
            case nil: return nil
            }
        case .userMerged:
            return merge(row)
        case .userUnmerged:
            return unmerge(row)
        case .personalDataErased:
            guard let person = row.userID else { return nil }
            var change = base(.userErased, row, userID: person)
            let users = uuids(row.details["users"])
            change.erasedUserIDs = users.contains(person) ? users : [person] + users
            return change
        default:
            return nil
        }
    }

    private static func base(_ kind: ChangeKind, _ row: Row, userID: UUID?) -> FeedChange {
        var change = FeedChange(
            position: row.position, eventID: row.eventID, kind: kind, occurredAt: row.occurredAt, publishedAt: row.publishedAt,
            userID: userID
        )
        change.check = row.check
        return change
    }

    /// An `identity.*` change: the event names the identity and its person.
    private static func identityChange(_ kind: ChangeKind, _ row: Row) -> FeedChange? {
        guard let userID = row.userID, let poolText = row.pool, let pool = PoolID(poolText), let sub = row.sub else { return nil }
        var change = base(kind, row, userID: userID)
        change.identity = IdentityKey(pool: pool, sub: sub)
        return change
    }

    /// `user_merged`: `from` went into `survivor` (the event's user), with its identities and the
    /// users merged into `from` before (now pointing at the survivor).
    private static func merge(_ row: Row) -> FeedChange? {
        guard let from = uuid(row.details["from"]), let survivor = uuid(row.details["survivor"]) ?? row.userID else { return nil }
        var change = base(.userMerged, row, userID: survivor)
        change.fromUserID = from
        change.toUserID = survivor
        change.mergedUserIDs = [from] + uuids(row.details["repointed_users"]).filter { $0 != from }
        change.identities = keys(row.details["moved_identities"])
        return change
    }

    /// `user_unmerged`: `from` is a person again, taking back its identities from `survivor`.
    private static func unmerge(_ row: Row) -> FeedChange? {
        guard let restored = uuid(row.details["from"]) ?? row.userID, let survivor = uuid(row.details["survivor"]) else { return nil }
        var change = base(.userUnmerged, row, userID: restored)
        change.fromUserID = survivor
        change.toUserID = restored
        change.restoredUserIDs = [restored] + uuids(row.details["repointed_users"]).filter { $0 != restored }
        change.identities = keys(row.details["restored_identities"])
        return change
    }

    private static func uuid(_ value: JSONValue?) -> UUID? {
        value?.stringValue.flatMap(UUID.init(uuidString:))
    }

    private static func uuids(_ value: JSONValue?) -> [UUID] {
        value?.arrayValue?.compactMap { uuid($0) } ?? []
    }

    /// `[{"pool", "sub"}]` as the merge events record them; an entry without both is left out.
    private static func keys(_ value: JSONValue?) -> [IdentityKey] {
        value?.arrayValue?.compactMap { item in
            guard let pool = item["pool"]?.stringValue.flatMap(PoolID.init), let sub = item["sub"]?.stringValue else { return nil }
            return IdentityKey(pool: pool, sub: sub)
        } ?? []
    }
}
