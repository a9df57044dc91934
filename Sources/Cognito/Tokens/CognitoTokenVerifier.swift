public import CryptoPrimitives
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
        try await verifySigned(token, issuer: issuer, now: now).verified
    }

    /// ``verify(_:issuer:now:)``, also naming the key that checked the signature (for a
    /// ``VerifiedTokenMemo``).
    public func verifySigned(
        _ token: CognitoToken, issuer: TokenIssuer, now: Date = Date()
    ) async throws(TokenRejection) -> (verified: VerifiedToken, key: RSAPublicKey) {
        let key = try await keys.key(token.keyID, of: issuer)
        guard token.isSigned(by: key) else { throw .signatureInvalid }
        return (try TokenClaimsCheck(issuer: issuer).check(token.claims, now: now), key)
    }

    /// A remembered token (``VerifiedTokenMemo``) checked again without its signature: nil when the
    /// pool's current key for its `kid` is not the very key that verified it (the set was fetched
    /// again, or the key withdrawn) — the caller then verifies it in full; otherwise every claim
    /// check, against `now` and the issuer as it is now.
    public func recheck(
        _ remembered: VerifiedTokenMemo.Entry, issuer: TokenIssuer, now: Date = Date()
    ) async throws(TokenRejection) -> VerifiedToken? {
        guard let current = try? await keys.key(remembered.keyID, of: issuer), current === remembered.key else { return nil }
        return try TokenClaimsCheck(issuer: issuer).check(remembered.claims, now: now)
    }
}
