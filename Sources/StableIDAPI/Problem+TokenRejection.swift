import Cognito
import HTTPTypes

extension Problem {
    /// A token `POST /v1/resolve/token` did not accept. 400 only for what the request schema
    /// states (a JWT's compact form); every check of the token itself is 401 with its own code,
    /// and keys that could not be fetched are 503. The detail is the rejection's fixed sentence:
    /// nothing of the token is echoed. No `WWW-Authenticate`: the caller's own bearer token was
    /// accepted, and a challenge would tell its client to sign in again.
    static func from(_ rejection: TokenRejection) -> Problem {
        let detail = rejection.description
        switch rejection {
        case .notCompact: return Problem(.badRequest, code: "invalid_token_format", title: "Not a JWT", detail: detail)
        case .malformed: return Problem(.unauthorized, code: "token_malformed", title: "Malformed token", detail: detail)
        case .algorithmNotAllowed:
            return Problem(.unauthorized, code: "token_algorithm_not_allowed", title: "Token algorithm not allowed", detail: detail)
        case .keyUnknown: return Problem(.unauthorized, code: "token_key_unknown", title: "Unknown signing key", detail: detail)
        case .signatureInvalid:
            return Problem(.unauthorized, code: "token_signature_invalid", title: "Invalid token signature", detail: detail)
        case .issuerUnknown: return Problem(.unauthorized, code: "token_issuer_unknown", title: "Unknown token issuer", detail: detail)
        case .expired: return Problem(.unauthorized, code: "token_expired", title: "Token expired", detail: detail)
        case .notYetValid: return Problem(.unauthorized, code: "token_not_yet_valid", title: "Token not yet valid", detail: detail)
        case .useInvalid: return Problem(.unauthorized, code: "token_use_invalid", title: "Not an ID or access token", detail: detail)
        case .audienceNotAllowed:
            return Problem(.unauthorized, code: "token_audience_not_allowed", title: "App client not allowed", detail: detail)
        case .jwksUnavailable:
            // As long as a failed fetch keeps the next one off.
            let seconds = max(1, JWKSCache.Configuration().retryAfterFailure.components.seconds)
            return Problem(
                .serviceUnavailable, code: "jwks_unavailable", title: "Signing keys unavailable", detail: detail,
                headers: [.retryAfter: String(seconds)]
            )
        }
    }
}
