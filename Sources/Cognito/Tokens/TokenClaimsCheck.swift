public import Foundation

/// What the claims of a token whose signature verified must say for it to be accepted: a pure
/// decision over the claims, the issuer and the time, tested without keys or a network.
///
/// The checks run in a fixed order, and the first that fails names the rejection: issuer, the
/// claims Cognito always sets, expiry, issue and not-before times, `token_use`, then the app client.
public struct TokenClaimsCheck: Sendable {
    /// Tolerated clock difference between Cognito and this server, in seconds: a token is still
    /// taken this long after `exp`, and this long before its `iat`/`nbf`. Small, so an expired
    /// token is not honoured for long, and a constant, so every server honours the same.
    public static let leeway: Int64 = 60

    public let issuer: TokenIssuer

    public init(issuer: TokenIssuer) {
        self.issuer = issuer
    }

    public func check(_ claims: CognitoTokenClaims, now: Date) throws(TokenRejection) -> VerifiedToken {
        // The pool was found by this `iss`; checked again so the decision stands on its own.
        guard claims.issuer == issuer.issuer else { throw .issuerUnknown }
        guard let expiresAt = claims.expiresAt, let issuedAt = claims.issuedAt, let subject = claims.subject, !subject.isEmpty else {
            throw .malformed
        }
        let seconds = Int64(now.timeIntervalSince1970.rounded(.down))
        // RFC 7519 §4.1.4: not accepted on or after `exp`.
        guard seconds < expiresAt + Self.leeway else { throw .expired }
        guard issuedAt <= seconds + Self.leeway else { throw .notYetValid }
        if let notBefore = claims.notBefore, notBefore > seconds + Self.leeway { throw .notYetValid }
        guard let use = claims.tokenUse.flatMap(VerifiedToken.Use.init(rawValue:)) else { throw .useInvalid }
        let client = try self.client(of: claims, use: use)
        return VerifiedToken(
            poolID: issuer.poolID, issuer: issuer.issuer, subject: subject, use: use, clientID: client, expiresAt: expiresAt,
            issuedAt: issuedAt, authTime: claims.authTime, username: claims.username
        )
    }

    /// The app client the token was issued to, which must be allowed: an ID token names it as its
    /// one audience (several would leave it open which client is meant), an access token as
    /// `client_id` (it has no `aud`).
    private func client(of claims: CognitoTokenClaims, use: VerifiedToken.Use) throws(TokenRejection) -> String {
        let named: String?
        switch use {
        case .id: named = claims.audience?.count == 1 ? claims.audience?.first : nil
        case .access: named = claims.clientID
        }
        guard let client = named, !client.isEmpty else { throw .audienceNotAllowed }
        if let allowed = issuer.allowedClientIDs, !allowed.contains(client) { throw .audienceNotAllowed }
        return client
    }
}
