public import Foundation

public enum UserStatus: String, Sendable, CaseIterable {
    case active, merged, deleted
}

public enum IdentityStatus: String, Sendable, CaseIterable {
    case active, disabled, deleted, unlinked
}

/// One Cognito identity of a user, as recorded in the map.
public struct Identity: Sendable, Equatable {
    public var pool: PoolID
    public var sub: String
    public var username: String
    public var email: String?
    public var emailVerified: Bool
    public var provider: String
    public var status: IdentityStatus
    public var linkedAt: Date
    public var unlinkedAt: Date?
    /// How the link was made (nil for links made before StableID recorded it).
    public var via: LinkPath?
    public var campaignID: UUID?

    public init(
        pool: PoolID, sub: String, username: String, email: String?, emailVerified: Bool, provider: String,
        status: IdentityStatus, linkedAt: Date, unlinkedAt: Date?, via: LinkPath? = nil, campaignID: UUID? = nil
    ) {
        self.pool = pool
        self.sub = sub
        self.username = username
        self.email = email
        self.emailVerified = emailVerified
        self.provider = provider
        self.status = status
        self.linkedAt = linkedAt
        self.unlinkedAt = unlinkedAt
        self.via = via
        self.campaignID = campaignID
    }
}

/// A stable user and every identity it has or had.
public struct User: Sendable, Equatable {
    public var id: UUID
    public var status: UserStatus
    public var mergedInto: UUID?
    public var createdAt: Date
    public var identities: [Identity]
    /// Set when the caller asked for a merged ID and got its survivor.
    public var requestedID: UUID?
}

/// The answer to "who is this sub?".
public struct Resolution: Sendable, Equatable {
    public var userID: UUID
    public var userStatus: UserStatus
    public var identity: Identity

    public init(userID: UUID, userStatus: UserStatus, identity: Identity) {
        self.userID = userID
        self.userStatus = userStatus
        self.identity = identity
    }
}

/// How a caller names an identity: by pool id, or by the `iss` claim of a token.
public enum IdentityReference: Sendable, Hashable {
    case pool(PoolID, sub: String)
    case issuer(String, sub: String)
}
