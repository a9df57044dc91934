import Hummingbird
import IdentityMap

/// Requires a valid bearer token with one scope; 401 without or with a bad/revoked token, 403 with
/// a token that lacks the scope.
struct ScopeMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let scope: Scope
    let authenticator: TokenAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("send Authorization: Bearer <token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty, parts[1].count <= 256 else {
            throw Problem.unauthorized("the Authorization header is not a bearer token")
        }
        let secret = TokenSecret(String(parts[1]))
        guard secret.isWellFormed else { throw Problem.unauthorized("the token is unknown or revoked") }
        guard let token = try await authenticator.authenticate(secret) else {
            throw Problem.unauthorized("the token is unknown or revoked")
        }
        guard token.scopes.contains(scope) else { throw Problem.forbidden(scope) }
        var context = context
        context.token = token
        return try await next(request, context)
    }
}
