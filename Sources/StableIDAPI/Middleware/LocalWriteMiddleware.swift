import Hummingbird
import LookupCache

/// Tells the lookup cache that this server committed a write, so that lookups read PostgreSQL
/// until the change feed has caught up past it (``LookupCache/noteLocalWrite(at:)``). Noted after
/// a successful answer — after its commit; a refused write changed nothing. The Cognito trigger
/// route is left out: sign-ins call it constantly, mostly changing nothing, and a sub a trigger
/// links is new, which a lookup finds in PostgreSQL anyway.
struct LocalWriteMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let cache: LookupCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get, request.method != .head else { return try await next(request, context) }
        let response = try await next(request, context)
        if (200..<300).contains(response.status.code) { cache.noteLocalWrite() }
        return response
    }
}
