/// A registered pool as token verification sees it: the `iss` its tokens carry, where its signing
/// keys are published, and which app clients may present tokens. The map's `Pool` is turned into
/// this by the caller, so this module keeps knowing nothing of the map.
public struct TokenIssuer: Sendable, Equatable {
    /// The pool id (`us-east-1_AbC123`): the key set is cached per pool.
    public var poolID: String
    /// Exactly the `iss` its tokens carry (`https://cognito-idp.<region>.amazonaws.com/<pool id>`).
    public var issuer: String
    /// The pool's JWKS (``CognitoConfiguration/jwksURL(poolID:)``).
    public var jwksURL: String
    /// App client ids allowed to present tokens (`aud` of ID tokens, `client_id` of access
    /// tokens); nil: any client of the pool.
    public var allowedClientIDs: Set<String>?

    public init(poolID: String, issuer: String, jwksURL: String, allowedClientIDs: Set<String>? = nil) {
        self.poolID = poolID
        self.issuer = issuer
        self.jwksURL = jwksURL
        self.allowedClientIDs = allowedClientIDs
    }
}
