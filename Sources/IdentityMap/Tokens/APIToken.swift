public import Foundation

/// What a bearer token may do. Scopes are exact: `admin` does not imply the others.
public enum Scope: String, Sendable, CaseIterable, Comparable {
    /// `merge` (merge and unmerge people) is apart from `write`: re-keying a person's identities
    /// is a bigger power than linking one. `changes` reads the change feed (`GET /v1/changes`)
    /// and nothing else: a backend that follows the feed needs no other power.
    case resolve, write, merge, audit, trigger, changes, admin

    public static func < (lhs: Scope, rhs: Scope) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Every scope, for help texts and messages ("resolve, write, …, admin"), so a new scope
    /// cannot be left out of one.
    public static var allNames: String {
        allCases.map(\.rawValue).joined(separator: ", ")
    }
}

/// A stored token: never the secret, only what it is allowed to do.
public struct APIToken: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var scopes: Set<Scope>
    /// The pools a `trigger` token may send events for. Nil when it is not bound: every token
    /// without the trigger scope, and trigger tokens made before binding existed (migration 0012),
    /// which still answer for every pool.
    public var pools: Set<PoolID>?
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: UUID, name: String, scopes: Set<Scope>, pools: Set<PoolID>? = nil, createdAt: Date, revokedAt: Date? = nil) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.pools = pools
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// Whether this token may send a trigger event whose `userPoolId` is `pool` (as received,
    /// unvalidated): an unbound token may, a bound one only for its pools.
    public func allowsTriggerEvents(forPool pool: String) -> Bool {
        guard let pools else { return true }
        guard let id = PoolID(pool) else { return false }
        return pools.contains(id)
    }

    /// A trigger token that is not bound to pools: it can post events for every pool, so one
    /// leaked forwarder token reaches all of them. `token list` flags these.
    public var isUnboundTrigger: Bool {
        scopes.contains(.trigger) && pools == nil
    }

    /// The binding rule, checked before a token is stored: pools are named only for a token of
    /// scope `trigger`, and a binding names at least one pool.
    public static func checkBinding(scopes: Set<Scope>, pools: Set<PoolID>?) throws(IdentityMapError) {
        guard let pools else { return }
        // Only a forwarder's token: the binding limits trigger events, and a bound token that could
        // also write or merge would carry powers its binding does not limit.
        guard scopes == [.trigger] else { throw .poolsNeedTriggerScope }
        guard !pools.isEmpty else { throw .invalidInput(field: "pools", reason: "must name at least one pool when given") }
    }
}
