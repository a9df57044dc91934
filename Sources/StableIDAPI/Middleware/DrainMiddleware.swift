import HTTPTypes
import Hummingbird

/// While draining, every answer says `Connection: close`, so a keep-alive client (a load
/// balancer's pooled connection) opens its next request elsewhere instead of reusing a connection
/// this server is about to close — the request that would otherwise land on a closing socket.
struct DrainMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let drain: DrainSignal

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        if drain.isDraining { response.headers[.connection] = "close" }
        return response
    }
}
