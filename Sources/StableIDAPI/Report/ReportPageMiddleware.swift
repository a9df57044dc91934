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
            response = try await next(request, context)
        } catch {
            response = Self.answer(error, to: request, context: context)
        }
        for field in ReportResponse.securityHeaders where response.headers[field.name] == nil {
            response.headers[field.name] = field.value
        }
        return response
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
