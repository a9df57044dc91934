import Cognito
import Hummingbird
import Logging
import Postgres

/// Turns every thrown error into a problem+json answer, so clients and metrics always see a status.
/// Unknown errors are logged with their type only (their text may carry values) and answer 500.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            // No route: but if the path is served under other methods, say which (405 + Allow).
            let path = request.uri.path.split(separator: "?", maxSplits: 1).first ?? ""
            let allowed = RouteTable.allowedMethods(for: path)
            guard !allowed.isEmpty else { return (Problem.from(error) ?? .notFound("no such route")).response() }
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            return Problem(
                .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed",
                detail: "this path answers \(allow)", headers: [.allow: allow]
            ).response()
        } catch {
            if let problem = Problem.from(error) {
                if case CognitoError.configuration(let reason) = error {
                    context.logger.error("Cognito configuration", metadata: ["reason": "\(reason)"])
                }
                if problem.status == .serviceUnavailable {
                    var metadata: Logger.Metadata = ["error": "\(type(of: error))"]
                    // Which failure (pool exhausted, connection lost, a serialization failure…):
                    // the kind and SQLSTATE carry no values, and tell an operator what to fix.
                    if let error = error as? PostgresError {
                        metadata["kind"] = "\(error.kind)"
                        if let sqlState = error.sqlState { metadata["sqlstate"] = "\(sqlState)" }
                    }
                    context.logger.warning("database unavailable", metadata: metadata)
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
