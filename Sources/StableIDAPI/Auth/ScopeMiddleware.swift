import HTTPTypes
import Hummingbird
import IdentityMap

/// Requires a valid bearer token with one scope; 401 without or with a bad/revoked token, 503
/// `overloaded` for one shed while too many unknown tokens are being checked (see
/// ``TokenAuthenticator``), 403 with a token that lacks the scope.
struct ScopeMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let scope: Scope
    let authenticator: TokenAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("send Authorization: Bearer <token>")
        }
        guard let credentials = Self.bearerCredentials(header) else {
            throw Problem.unauthorized("the Authorization header is not a bearer token")
        }
        let token: APIToken
        // A value not shaped like a token, or with a wrong checksum, is unknown without a query.
        switch try await authenticator.authenticate(TokenSecret(String(credentials))) {
        case .authenticated(let found):
            token = found
        case .unknown:
            throw Problem.unauthorized("the token is unknown or revoked")
        case .shed:
            // 503, not 401: the token may be real (made before checksums, not yet seen by this
            // server), and a client told 401 would drop it. A checksummed token never gets here.
            throw Problem(
                .serviceUnavailable, code: "overloaded", title: "Too many unknown tokens are being checked",
                detail: "a token made before checksums is checked as capacity allows: retry after the indicated delay, or replace it",
                headers: [.retryAfter: "1"]
            )
        }
        guard token.scopes.contains(scope) else { throw Problem.forbidden(scope) }
        var context = context
        context.token = token
        return try await next(request, context)
    }

    /// What follows `Bearer ` (the scheme is case-insensitive, RFC 9110 §11.1): 1–256 bytes, or
    /// nil. Compared on bytes: this runs on every request.
    static func bearerCredentials(_ header: String) -> Substring? {
        let utf8 = header.utf8
        guard utf8.count > 7, utf8.count <= 7 + 256 else { return nil }
        let space = utf8.index(utf8.startIndex, offsetBy: 6)
        guard utf8[space] == UInt8(ascii: " "),
            zip(utf8[..<space], "bearer".utf8).allSatisfy({ $0 | 0x20 == $1 })
        else { return nil }
        return header[utf8.index(after: space)...]
    }
}
