import Hummingbird
import LookupCache

/// Tells the lookup cache that this server committed a write, so that lookups read PostgreSQL
/// until the change feed has caught up past it (``LookupCache/noteLocalWrite(at:)``). Noted after
/// the handler answered — after its commit — whatever the answer: a failed write changed nothing,
/// and a needless note costs one poll's worth of database lookups.
struct LocalWriteMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let cache: LookupCache

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method != .get, request.method != .head else { return try await next(request, context) }
        defer { cache.noteLocalWrite() }
        return try await next(request, context)
    }
}
