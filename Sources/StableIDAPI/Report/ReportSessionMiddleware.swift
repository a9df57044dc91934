import HTTPTypes
import Hummingbird
import IdentityMap

/// Lets a request through to a signed-in report page only with a live session: its cookie names
/// a session that is neither signed out, expired nor idle too long, and whose token is not
/// revoked and still has scope `audit` (all checked in one statement on every request). Otherwise
/// a browser is sent to the sign-in form — back to this page afterwards when it asked for one with
/// GET — and a client that asks for JSON gets 401 `session_required`.
struct ReportSessionMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let sessions: ReportSessionStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let cookie = ReportCookies.value(ReportCookies.session, in: request),
            let session = try await sessions.session(cookie), session.token.scopes.contains(.audit)
        else {
            if ReportResponse.wantsJSON(request) { throw Problem.sessionRequired }
            return ReportResponse.signIn(returningTo: request.method == .get ? request.uri.path : nil)
        }
        var context = context
        context.token = session.token
        context.reportSession = session
        return try await next(request, context)
    }
}
