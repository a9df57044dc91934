import Hummingbird
import Logging

/// Turns every thrown error into a problem+json answer, so clients and metrics always see a status.
/// Unknown errors are logged with their type only (their text may carry values) and answer 500.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            if let problem = Problem.from(error) {
                if problem.status == .serviceUnavailable {
                    context.logger.warning("database unavailable", metadata: ["error": "\(type(of: error))"])
                }
                return problem.response()
            }
            context.logger.error(
                "unhandled error",
                metadata: ["error_type": "\(String(reflecting: type(of: error)))", "route": "\(context.endpointPath ?? "-")"]
            )
            return Problem.internalError.response()
        }
    }
}
