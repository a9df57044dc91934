public import Foundation

/// A registered Cognito user pool.
public struct Pool: Sendable, Equatable {
    public var id: PoolID
    public var region: String
    public var name: String?
    public var issuer: String
    public var createdAt: Date

    public init(id: PoolID, region: String, name: String?, issuer: String, createdAt: Date) {
        self.id = id
        self.region = region
        self.name = name
        self.issuer = issuer
        self.createdAt = createdAt
    }

    /// Issuers compare without a trailing slash: `…/us-east-1_X/` and `…/us-east-1_X` are one pool.
    public static func normalizeIssuer(_ issuer: String) -> String {
        var value = issuer.trimmingCharacters(in: .whitespaces)
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }
}
