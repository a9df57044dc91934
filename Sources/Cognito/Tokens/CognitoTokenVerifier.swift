public import Foundation

/// Verifies a parsed Cognito token for the registered pool its `iss` names: the key its header
/// names from the pool's key set (``JWKSCache``), the RS256 signature over the header and payload
/// as sent, then the claims (``TokenClaimsCheck``) — only a token whose signature verified has its
/// claims read, so what a forger writes there is never an answer.
///
/// The pool is the caller's to find from ``CognitoToken/claims``' issuer: this module knows
/// nothing of the registered pools.
public struct CognitoTokenVerifier: Sendable {
    public let keys: JWKSCache

    public init(keys: JWKSCache = JWKSCache()) {
        self.keys = keys
    }

    public func verify(_ token: CognitoToken, issuer: TokenIssuer, now: Date = Date()) async throws(TokenRejection) -> VerifiedToken {
        let key = try await keys.key(token.keyID, of: issuer)
        guard token.isSigned(by: key) else { throw .signatureInvalid }
        return try TokenClaimsCheck(issuer: issuer).check(token.claims, now: now)
    }
}
