/// Why a token was not accepted: one case per check, so a caller learns which one failed and the
/// API can answer each with its own stable code. Descriptions are fixed sentences: nothing of the
/// token (a claim, a header value, a part of its text) is ever repeated back.
public enum TokenRejection: Error, Sendable, Equatable, CaseIterable, CustomStringConvertible {
    /// Not three dot-separated runs of base64url characters, or longer than
    /// ``CognitoToken/maxLength``: what a request schema can state (the API answers 400).
    case notCompact
    /// Compact in form, but a part is not base64url of a JSON object, a claim has the wrong JSON
    /// type, or a claim Cognito always sets (`exp`, `iat`, `sub`) is missing.
    case malformed
    /// The header's `alg` is not exactly `RS256` (`none`, `HS256` signed with the public key as
    /// an HMAC secret, any other), or it demands extensions (`crit`) this verifier does not know.
    case algorithmNotAllowed
    /// No `kid` in the header, or none of the issuer's keys has it (after the one refetch allowed).
    case keyUnknown
    case signatureInvalid
    /// `iss` names no registered pool.
    case issuerUnknown
    case expired
    /// `iat` or `nbf` is in the future, beyond the leeway.
    case notYetValid
    /// `token_use` is not `id` or `access` (a refresh token is not a JWT Cognito signs this way).
    case useInvalid
    /// The app client (`aud` of an ID token, `client_id` of an access token) is missing or not in
    /// the pool's allow-list.
    case audienceNotAllowed
    /// The issuer's key set could not be fetched (and no usable copy is kept).
    case jwksUnavailable

    /// The outcome label of the verification counter (`stableid_token_verifications_total`).
    public var reason: String {
        switch self {
        case .notCompact: return "not_compact"
        case .malformed: return "malformed"
        case .algorithmNotAllowed: return "algorithm_not_allowed"
        case .keyUnknown: return "key_unknown"
        case .signatureInvalid: return "signature_invalid"
        case .issuerUnknown: return "issuer_unknown"
        case .expired: return "expired"
        case .notYetValid: return "not_yet_valid"
        case .useInvalid: return "use_invalid"
        case .audienceNotAllowed: return "audience_not_allowed"
        case .jwksUnavailable: return "jwks_unavailable"
        }
    }

    public var description: String {
        switch self {
        case .notCompact:
            return "the token must be a compact JWT: three dot-separated base64url parts, at most \(CognitoToken.maxLength) characters"
        case .malformed:
            return "the token's parts are not base64url JSON objects with Cognito's claims (exp, iat and sub as they must be)"
        case .algorithmNotAllowed: return "only RS256 tokens are accepted, without critical header extensions"
        case .keyUnknown: return "the token names no key of its issuer's key set"
        case .signatureInvalid: return "the token's signature does not verify with its issuer's key"
        case .issuerUnknown: return "the token's issuer (iss) is not a registered pool"
        case .expired: return "the token has expired"
        case .notYetValid: return "the token is not valid yet (iat or nbf is in the future)"
        case .useInvalid: return "token_use must be id or access"
        case .audienceNotAllowed: return "the token's app client is missing or not allowed for this pool"
        case .jwksUnavailable: return "the issuer's signing keys (JWKS) could not be fetched; retry after the indicated delay"
        }
    }
}
