import CryptoPrimitives
public import Foundation

/// A signed-in browser of the report pages: the token it signed in with (read afresh, revocation
/// checked, on every request) and the secret its forms' CSRF tokens are made from.
///
/// CSRF tokens are HMAC-SHA-256(secret, purpose) rather than the secret itself: a token names the
/// kind of form it was made for (``FormPurpose``), so one copied out of a page — the pages are
/// printed and saved — cannot submit another kind, and the secret never leaves the server. Nothing
/// needs storing per form, and a page can be reloaded or opened twice.
public struct ReportSession: Sendable {
    public var token: APIToken
    public var createdAt: Date
    public var expiresAt: Date
    let csrfSecret: [UInt8]

    public init(token: APIToken, createdAt: Date, expiresAt: Date, csrfSecret: [UInt8]) {
        self.token = token
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.csrfSecret = csrfSecret
    }

    /// The kinds of form a signed-in page carries.
    public enum FormPurpose: String, Sendable {
        case lookup
        case signOut = "logout"
    }

    /// Keeps these MACs apart from any other use of HMAC-SHA-256 with the same key.
    static let csrfDomain = Array("stableid-report-csrf-v1\n".utf8)

    /// The CSRF token a form with this purpose carries (base64url, 43 characters).
    public func csrfToken(for purpose: FormPurpose) -> String {
        Base64URL.encode(HMACSHA256.authenticationCode(key: csrfSecret, message: Self.csrfDomain + Array(purpose.rawValue.utf8)))
    }

    /// Whether `token` (a form's `csrf` field, nil when absent) is this session's token for
    /// `purpose`; compared in constant time.
    public func acceptsCSRF(_ token: String?, for purpose: FormPurpose) -> Bool {
        guard let token else { return false }
        return ConstantTime.equals(token, csrfToken(for: purpose))
    }
}
