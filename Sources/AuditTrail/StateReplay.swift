public import Foundation
public import IdentityMap

/// The identity map that the event history implies, rebuilt event by event. Pure: the verifier
/// feeds it events in id order and compares the result with the tables.
///
/// What events determine is compared: which users exist, whether and into whom a user is merged,
/// which person owns each `(pool, sub)`, and whether the identity is linked, unlinked or deleted.
/// (Active and disabled are not told apart: an import records a disabled Cognito user with the
/// same `identity_linked` event.)
public struct StateReplay: Sendable {
    public enum LinkState: String, Sendable, Codable, Equatable {
        case linked, unlinked, deleted
    }

    public struct ImpliedIdentity: Sendable, Equatable {
        public var owner: UUID
        public var state: LinkState
        /// The last event that touched it, to name in a report.
        public var lastEvent: Int64
    }

    public struct ImpliedUser: Sendable, Equatable {
        public var mergedInto: UUID?
        public var lastEvent: Int64
    }

    public private(set) var users: [UUID: ImpliedUser] = [:]
    public private(set) var identities: [IdentityKey: ImpliedIdentity] = [:]

    public init() {}

    /// The event kinds that change the map; others are skipped by the reader.
    public static let kinds: [EventKind] = [
        .userCreated, .identityLinked, .identityUnlinked, .identityStatusChanged, .userMerged, .userUnmerged,
    ]

    /// The kinds whose replay reads `details`; the others need only their subject columns.
    public static let kindsReadingDetails: [EventKind] = [.identityStatusChanged, .userMerged, .userUnmerged]

    public mutating func apply(id: Int64, kind: String, userID: UUID?, key: IdentityKey?, details: JSONValue) {
        switch EventKind(rawValue: kind) {
        case .userCreated:
            if let userID { users[userID] = ImpliedUser(mergedInto: nil, lastEvent: id) }
        case .identityLinked:
            if let userID, let key { identities[key] = ImpliedIdentity(owner: userID, state: .linked, lastEvent: id) }
        case .identityUnlinked:
            if let key, var identity = identities[key] {
                identity.state = .unlinked
                identity.lastEvent = id
                identities[key] = identity
            }
        case .identityStatusChanged:
            if let key, var identity = identities[key], let to = details["to"]?.stringValue {
                identity.state =
                    to == IdentityStatus.deleted.rawValue ? .deleted : to == IdentityStatus.unlinked.rawValue ? .unlinked : .linked
                identity.lastEvent = id
                identities[key] = identity
            }
        case .userMerged:
            guard let from = details["from"]?.stringValue.flatMap(UUID.init),
                let survivor = details["survivor"]?.stringValue.flatMap(UUID.init)
            else { return }
            for key in Self.keys(details["moved_identities"]) {
                identities[key]?.owner = survivor
                identities[key]?.lastEvent = id
            }
            users[from] = ImpliedUser(mergedInto: survivor, lastEvent: id)
            // Earlier merges into `from` now point at the survivor (path compression).
            let repointed =
                details["repointed_users"]?.arrayValue.map { $0.compactMap { $0.stringValue.flatMap(UUID.init) } }
                ?? users.filter { $0.value.mergedInto == from }.map(\.key)
            for user in repointed { users[user] = ImpliedUser(mergedInto: survivor, lastEvent: id) }
        case .userUnmerged:
            guard let from = details["from"]?.stringValue.flatMap(UUID.init) else { return }
            for key in Self.keys(details["restored_identities"]) {
                identities[key]?.owner = from
                identities[key]?.lastEvent = id
            }
            users[from] = ImpliedUser(mergedInto: nil, lastEvent: id)
            for user in details["repointed_users"]?.arrayValue?.compactMap({ $0.stringValue.flatMap(UUID.init) }) ?? [] {
                users[user] = ImpliedUser(mergedInto: from, lastEvent: id)
            }
        default:
            break
        }
    }

    static func keys(_ value: JSONValue?) -> [IdentityKey] {
        value?.arrayValue?.compactMap { item in
            guard let pool = item["pool"]?.stringValue.flatMap(PoolID.init), let sub = item["sub"]?.stringValue else { return nil }
            return IdentityKey(pool: pool, sub: sub)
        } ?? []
    }

    /// One difference between what the events imply and what the tables hold.
    public struct Mismatch: Sendable, Codable, Equatable {
        /// `identity` or `user`.
        public var subject: String
        /// `pool/sub` or the user id.
        public var key: String
        public var expected: String
        public var found: String
        /// The last event that touched it (nil: no event ever did).
        public var lastEvent: Int64?

        enum CodingKeys: String, CodingKey {
            case subject, key, expected, found
            case lastEvent = "last_event"
        }
    }

    /// Compares one identity row of the table with what the events imply (and forgets it, so
    /// that what is left afterwards exists only in the events).
    public mutating func check(identity key: IdentityKey, owner: UUID, status: IdentityStatus) -> Mismatch? {
        // Compared as values; the texts are built only for a mismatch (a million rows are checked).
        let state = Self.linkState(status)
        guard let implied = identities.removeValue(forKey: key) else {
            return Mismatch(
                subject: "identity", key: "\(key.pool)/\(key.sub)", expected: "absent", found: Self.describe(owner, state), lastEvent: nil)
        }
        guard implied.owner != owner || implied.state != state else { return nil }
        return Mismatch(
            subject: "identity", key: "\(key.pool)/\(key.sub)", expected: Self.describe(implied.owner, implied.state),
            found: Self.describe(owner, state), lastEvent: implied.lastEvent)
    }

    static func describe(_ owner: UUID, _ state: LinkState) -> String { "\(owner.uuidString.lowercased()) \(state.rawValue)" }

    static func describe(mergedInto: UUID?) -> String {
        mergedInto.map { "merged into \($0.uuidString.lowercased())" } ?? "not merged"
    }

    public mutating func check(user id: UUID, mergedInto: UUID?) -> Mismatch? {
        guard let implied = users.removeValue(forKey: id) else {
            return Mismatch(
                subject: "user", key: id.uuidString.lowercased(), expected: "absent", found: Self.describe(mergedInto: mergedInto),
                lastEvent: nil)
        }
        guard implied.mergedInto != mergedInto else { return nil }
        return Mismatch(
            subject: "user", key: id.uuidString.lowercased(), expected: Self.describe(mergedInto: implied.mergedInto),
            found: Self.describe(mergedInto: mergedInto), lastEvent: implied.lastEvent)
    }

    /// What the events imply but the tables lack, once every row was checked.
    public func leftovers() -> [Mismatch] {
        identities.map { key, implied in
            Mismatch(
                subject: "identity", key: "\(key.pool)/\(key.sub)",
                expected: "\(implied.owner.uuidString.lowercased()) \(implied.state.rawValue)",
                found: "absent", lastEvent: implied.lastEvent
            )
        }
            + users.map { id, implied in
                Mismatch(
                    subject: "user", key: id.uuidString.lowercased(),
                    expected: implied.mergedInto.map { "merged into \($0.uuidString.lowercased())" } ?? "not merged", found: "absent",
                    lastEvent: implied.lastEvent
                )
            }
    }

    static func linkState(_ status: IdentityStatus) -> LinkState {
        switch status {
        case .active, .disabled: return .linked
        case .unlinked: return .unlinked
        case .deleted: return .deleted
        }
    }
}
