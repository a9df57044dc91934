import CampaignReport
import HTTPTypes
import Hummingbird
import Logging

/// Wraps every report route: failures become an HTML page that says what happened (problem+json
/// with the same stable `code` for a client that asks for JSON), and every answer, page or error
/// or redirect, gets ``ReportResponse/securityHeaders``. Unknown errors are logged by type only,
/// as ``ProblemMiddleware`` does: their text may carry values.
struct ReportPageMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            // Defence in depth beside the CSRF tokens and SameSite=Strict: a form posted from
            // another site (the browser says so) is refused before it is read.
            if request.method == .post, Self.isCrossSite(request) { throw Problem.csrfFailed }
            response = try await next(request, context)
        } catch {
            response = Self.answer(error, to: request, context: context)
        }
        for field in ReportResponse.securityHeaders where response.headers[field.name] == nil {
            response.headers[field.name] = field.value
        }
        return response
    }

    /// A browser says where a request comes from in `Sec-Fetch-Site` (every current one sends it):
    /// anything but `same-origin` (a form on these pages) or `none` (typed, bookmarked) is another
    /// site's doing. Without it (older browsers), an `Origin` naming another host. `Origin: null`
    /// alone proves nothing: with these pages' `Referrer-Policy: no-referrer` a browser sends it on
    /// their own forms. Clients sending neither (curl) rely on the CSRF tokens.
    static func isCrossSite(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!] {
            return !["same-origin", "none"].contains(site.lowercased())
        }
        guard let origin = request.headers[.origin], origin != "null", let host = request.head.authority else { return false }
        let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init)
        return originHost?.lowercased() != host.lowercased()
    }

    static func answer(_ error: any Error, to request: Request, context: Context) -> Response {
        let problem: Problem
        if let known = Problem.from(error) {
            problem = known
        } else {
            context.logger.error(
                "unhandled error",
                metadata: ["error_type": "\(String(reflecting: type(of: error)))", "route": "\(context.endpointPath ?? "-")"]
            )
            problem = .internalError
        }
        if ReportResponse.wantsJSON(request) { return problem.response() }
        let page = MessagePage(
            title: problem.title, message: problem.detail ?? "Please try again.", link: (label: "Campaigns", path: ReportPaths.campaigns)
        )
        var response = ReportResponse.html(problem.status, page.html())
        // Retry-After and the like still apply to a page; the content type is the page's.
        for field in problem.headers where field.name != .contentType && field.name != .wwwAuthenticate {
            response.headers[field.name] = field.value
        }
        return response
    }
}
