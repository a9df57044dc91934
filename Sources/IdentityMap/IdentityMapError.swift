public import Foundation

/// Why an identity-map operation was refused. Only the API module turns these into HTTP answers.
public enum IdentityMapError: Error, Sendable, Equatable {
    case invalidInput(field: String, reason: String)
    /// A `sub` that is not a UUID (Cognito subs always are).
    case invalidSub(field: String)
    case unknownPool(String)
    case poolAlreadyExists(String)
    case userNotFound(UUID)
    case userAlreadyExists(UUID)
    case userNotActive(UUID, UserStatus)
    /// The `(pool, sub)` already belongs to another user (or is active on the one asked).
    case identityAlreadyLinked(pool: String, sub: String)
    case usernameTaken(pool: String, username: String)
    case identityNotFound(pool: String, sub: String)
    case cannotMergeIntoSelf
    /// `from` is not (or no longer) merged into the survivor named.
    case notMerged(from: UUID, into: UUID)
    /// What the merge moved has changed since (an identity unlinked or moved on): undoing it
    /// would not restore the state it left, so a person has to decide.
    case mergeChangedSince(String)
    case idempotencyKeyReused
    /// A request with this key is still being answered.
    case idempotencyKeyInUse
    case tokenNotFound(String)
    case tokenNameTaken(String)
    /// Pools were named for a token without the `trigger` scope: a binding limits trigger events only.
    case poolsNeedTriggerScope
}

extension IdentityMapError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidInput(let field, let reason): return "\(field) \(reason)"
        case .invalidSub(let field): return "\(field) must be a Cognito sub (a UUID such as 8f2b7a4e-1c3d-4e5f-9a0b-1c2d3e4f5a6b)"
        case .unknownPool(let pool): return "pool \(pool) is not registered"
        case .poolAlreadyExists(let pool): return "pool \(pool) is already registered"
        case .userNotFound(let id): return "no user \(id.uuidString.lowercased())"
        case .userAlreadyExists(let id): return "user \(id.uuidString.lowercased()) already exists"
        case .userNotActive(let id, let status): return "user \(id.uuidString.lowercased()) is \(status.rawValue)"
        case .identityAlreadyLinked(let pool, _): return "this sub of pool \(pool) is already linked to another user"
        case .usernameTaken(let pool, _): return "this username is already used by another identity of pool \(pool)"
        case .identityNotFound(let pool, _): return "the user has no such identity in pool \(pool)"
        case .cannotMergeIntoSelf: return "a user cannot be merged into itself"
        case .notMerged(let from, let into):
            return "user \(from.uuidString.lowercased()) is not merged into \(into.uuidString.lowercased())"
        case .mergeChangedSince(let reason): return "the merge cannot be undone exactly: \(reason)"
        case .idempotencyKeyReused: return "this Idempotency-Key was used with a different request"
        case .idempotencyKeyInUse: return "a request with this Idempotency-Key is still in progress; retry later"
        case .tokenNotFound(let name): return "no active token \(name)"
        case .tokenNameTaken(let name): return "an active token is already named \(name)"
        case .poolsNeedTriggerScope:
            return
                "pools bind a token whose only scope is trigger to the pools whose trigger events it may send; give --scope trigger alone, or leave out pools"
        }
    }
}
