/// What a token that passed every check says: only the claims that were checked or that name the
/// sign-in (no email or other personal attribute).
public struct VerifiedToken: Sendable, Equatable {
    public enum Use: String, Sendable {
        case id
        case access
    }

    public var poolID: String
    public var issuer: String
    /// As the token spells it; the caller canonicalises it (a Cognito sub is a UUID).
    public var subject: String
    public var use: Use
    /// The app client: `aud` of an ID token, `client_id` of an access token.
    public var clientID: String
    /// NumericDate seconds.
    public var expiresAt: Int64
    public var issuedAt: Int64
    public var authTime: Int64?
    public var username: String?

    public init(
        poolID: String, issuer: String, subject: String, use: Use, clientID: String, expiresAt: Int64, issuedAt: Int64,
        authTime: Int64? = nil, username: String? = nil
    ) {
        self.poolID = poolID
        self.issuer = issuer
        self.subject = subject
        self.use = use
        self.clientID = clientID
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.authTime = authTime
        self.username = username
    }
}
