import ChangeFeed
import Cognito
import Foundation
public import HTTPTypes
public import Hummingbird
import IdentityMap
import NIOCore
import Postgres
import Support
import UserMigration
import Webhooks

/// An RFC 9457 problem answer with a stable machine-readable `code`.
///
/// `detail` is written by us; it never contains libpq or libcurl text, bind values or secrets.
public struct Problem: HTTPResponseError, Sendable {
    public let status: HTTPResponse.Status
    public let code: String
    public let title: String
    public let detail: String?
    public var headers: HTTPFields

    public init(_ status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = headers
    }

    struct Body: Encodable {
        var type: String
        var title: String
        var status: Int
        var code: String
        var detail: String?
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    func response() -> Response {
        let body = Body(type: "urn:stableid:problem:\(code)", title: title, status: Int(status.code), code: code, detail: detail)
        let data = (try? JSONEncoder.sortedKeys().encode(body)) ?? Data()
        var headers = self.headers
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: The stable codes

    static func invalidRequest(_ detail: String) -> Problem {
        Problem(.badRequest, code: "invalid_request", title: "The request is malformed", detail: detail)
    }
    static func unauthorized(_ detail: String) -> Problem {
        Problem(
            .unauthorized, code: "unauthorized", title: "Authentication required", detail: detail,
            headers: [.wwwAuthenticate: "Bearer realm=\"stableid\""])
    }
    static func forbidden(_ scope: Scope) -> Problem {
        Problem(.forbidden, code: "forbidden", title: "The token lacks a scope", detail: "this route needs the '\(scope.rawValue)' scope")
    }
    /// A trigger token bound to pools sent an event for another pool.
    static func poolNotAllowed(_ pool: String) -> Problem {
        // The pool is echoed only when it is shaped like one: the body is the caller's text.
        let named = PoolID(pool).map { "pool \($0.rawValue)" } ?? "this userPoolId"
        return Problem(
            .forbidden, code: "pool_not_allowed", title: "The token is not bound to this pool",
            detail: "this trigger token may send events only for the pools it is bound to, and \(named) is not one of them")
    }
    static func notFound(_ detail: String) -> Problem {
        Problem(.notFound, code: "not_found", title: "Not found", detail: detail)
    }
    static let payloadTooLarge = Problem(.contentTooLarge, code: "payload_too_large", title: "The request body is too large")
    static let databaseUnavailable = Problem(
        .serviceUnavailable, code: "database_unavailable", title: "The database is unavailable",
        detail: "retry after the indicated delay", headers: [.retryAfter: "1"]
    )
    static let internalError = Problem(.internalServerError, code: "internal_error", title: "Internal error")
    /// A report form posted without its CSRF token, or with one that is not this session's (or,
    /// at sign-in, that does not match the pre-session cookie).
    static let csrfFailed = Problem(
        .forbidden, code: "csrf_failed", title: "The form was refused",
        detail: "it carried no valid CSRF token: reload the page it came from and send it again"
    )
    /// A report page asked for as JSON without a live session (a browser is sent to the sign-in form instead).
    static let sessionRequired = Problem(
        .unauthorized, code: "session_required", title: "Sign in first",
        detail: "the report pages take the session cookie of a sign-in at /report/login, not a bearer token"
    )

    /// Maps any error to a problem; only this module turns domain errors into HTTP.
    static func from(_ error: any Error) -> Problem? {
        switch error {
        case let problem as Problem:
            return problem
        case let error as IdentityMapError:
            return from(error)
        case let error as MigrationError:
            return from(error)
        case let error as ChangeFeedError: return from(error)
        case let error as WebhookError: return from(error)
        case let error as CognitoError:
            // Cognito (or the network to it) failed us: the caller retries; a trigger's forwarder
            // applies its fail-open/closed policy.
            switch error {
            case .transport, .deadlineExceeded:
                return Problem(
                    .serviceUnavailable, code: "cognito_unavailable", title: "Cognito did not answer in time", headers: [.retryAfter: "1"]
                )
            case .configuration:
                // The reason (a role, an account, a trust policy) is for the operator's log, not the caller.
                return Problem(
                    .internalServerError, code: "cognito_configuration", title: "Cognito is not configured",
                    detail: "the service cannot reach this pool's account; see its log"
                )
            case .service where error.isRetryable:
                return Problem(
                    .serviceUnavailable, code: "cognito_unavailable", title: "Cognito is throttling or failing",
                    headers: [.retryAfter: "1"]
                )
            case .service, .malformedResponse:
                return Problem(.badGateway, code: "cognito_error", title: "Cognito refused a call", detail: error.type.map { "\($0)" })
            }
        case let rejection as TokenRejection:
            return from(rejection)
        case let error as TriggerEventError:
            switch error {
            case .unsupportedTrigger, .unsupportedVersion:
                return Problem(.badRequest, code: "unsupported_trigger", title: "Unsupported trigger", detail: error.description)
            case .malformed, .answerMismatch:
                return .invalidRequest(error.description)
            }
        case is NIOTooManyBytesError:
            return .payloadTooLarge
        case let error as HTTPError:
            switch error.status {
            case .notFound: return .notFound("no such route")
            case .contentTooLarge: return .payloadTooLarge
            case .badRequest: return .invalidRequest(error.body ?? "malformed request")
            case .methodNotAllowed: return Problem(.methodNotAllowed, code: "method_not_allowed", title: "Method not allowed")
            default: return Problem(error.status, code: "http_\(error.status.code)", title: error.status.reasonPhrase)
            }
        case is ColdBatchAdmission.Shed:
            return Problem(
                .serviceUnavailable, code: "overloaded", title: "Too many requests in flight",
                detail: "the lookup cache is not live yet and this server takes only a few batches meanwhile; retry, here or elsewhere",
                headers: [.retryAfter: "1"]
            )
        case is ResolveCoalescer.Overloaded:
            return Problem(
                .serviceUnavailable, code: "overloaded", title: "Too many requests in flight",
                detail: "retry after the indicated delay", headers: [.retryAfter: "1"]
            )
        case let error as PostgresError where error.kind == .invalidParameter:
            return .invalidRequest("a value contains a NUL byte")
        case let error as PostgresError where error.isTimeout:
            return Problem(
                .serviceUnavailable, code: "database_timeout", title: "The database did not answer in time",
                detail: "a statement or lock wait ran past its limit; retry after the indicated delay", headers: [.retryAfter: "1"]
            )
        case is RetryableConflict:
            return Problem(
                .conflict, code: "concurrent_update", title: "Concurrent update",
                detail: "the same data was being changed concurrently; retry", headers: [.retryAfter: "1"]
            )
        default:
            if isDatabaseUnavailable(error) { return .databaseUnavailable }
            return nil
        }
    }

    /// A cursor the feed cannot follow: the consumer must re-sync, then follow from the end.
    static func from(_ error: ChangeFeedError) -> Problem {
        let why: String
        switch error {
        case .cursorPruned:
            why = "the changes after this cursor are older than the feed's retention and were removed"
        case .cursorAhead:
            why = "this cursor is past the end of this database's feed (another installation, or commits a failover lost)"
        case .cursorDiverged:
            why =
                "this cursor names a change this database does not hold at its position (commits a failover lost, since given to other changes)"
        }
        return Problem(
            .gone, code: "cursor_expired", title: "The cursor can no longer be followed",
            detail: why + ". Re-sync: take a new cursor from GET /v1/changes without `after` first, then re-read every stable ID"
                + " you hold (GET /v1/users/{id}; a merged ID answers its survivor), then follow from that cursor."
        )
    }

    /// A webhook refused: the detail never holds the secret, and a URL only redacted.
    static func from(_ error: WebhookError) -> Problem {
        let detail = error.description
        switch error {
        case .invalidURL:
            return Problem(.badRequest, code: "invalid_webhook_url", title: "Not a webhook URL", detail: detail)
        case .urlNotAllowed:
            return Problem(.unprocessableContent, code: "webhook_url_not_allowed", title: "Deliveries may not go there", detail: detail)
        case .invalidSecret:
            return Problem(.badRequest, code: "invalid_webhook_secret", title: "Not a Standard Webhooks secret", detail: detail)
        case .invalidKinds, .invalidDescription:
            return .invalidRequest(detail)
        case .notFound:
            return .notFound(detail)
        case .enabledAlready:
            return Problem(.conflict, code: "webhook_enabled", title: "The webhook is enabled", detail: detail)
        }
    }

    static func from(_ error: MigrationError) -> Problem {
        let detail = error.description
        switch error {
        case .invalidCampaign, .malformedEvent: return .invalidRequest(detail)
        case .invalidProgressQuery:
            return Problem(.badRequest, code: "invalid_progress_query", title: "Invalid progress query", detail: detail)
        case .campaignNotFound: return .notFound(detail)
        case .targetBusy: return Problem(.conflict, code: "target_in_campaign", title: "Pool already in a campaign", detail: detail)
        case .nameTaken: return Problem(.conflict, code: "campaign_name_taken", title: "Campaign name in use", detail: detail)
        case .unknownPool: return Problem(.unprocessableContent, code: "unknown_pool", title: "Pool not registered", detail: detail)
        case .noCampaign: return Problem(.unprocessableContent, code: "no_campaign", title: "No campaign for this pool", detail: detail)
        case .noSourceClient:
            return Problem(.unprocessableContent, code: "no_source_client", title: "No source app client", detail: detail)
        // The forwarder raises `detail` as the Lambda's error: Cognito shows a failed sign-in.
        case .notAuthorized: return Problem(.badRequest, code: "not_authorized", title: "Migration refused", detail: detail)
        }
    }

    static func from(_ error: IdentityMapError) -> Problem {
        let detail = error.description
        switch error {
        case .invalidInput: return .invalidRequest(detail)
        case .invalidSub: return Problem(.badRequest, code: "invalid_sub", title: "Not a Cognito sub", detail: detail)
        case .unknownPool: return Problem(.unprocessableContent, code: "unknown_pool", title: "Pool not registered", detail: detail)
        case .poolAlreadyExists: return Problem(.conflict, code: "pool_exists", title: "Pool already registered", detail: detail)
        case .userNotFound: return .notFound(detail)
        case .userAlreadyExists: return Problem(.conflict, code: "user_exists", title: "User already exists", detail: detail)
        case .userNotActive: return Problem(.conflict, code: "user_not_active", title: "User is not active", detail: detail)
        case .identityAlreadyLinked:
            return Problem(.conflict, code: "identity_already_linked", title: "Identity already linked", detail: detail)
        case .usernameTaken: return Problem(.conflict, code: "username_taken", title: "Username already used in pool", detail: detail)
        case .identityNotFound: return .notFound(detail)
        case .cannotMergeIntoSelf: return Problem(.unprocessableContent, code: "invalid_merge", title: "Invalid merge", detail: detail)
        case .notMerged: return Problem(.conflict, code: "not_merged", title: "Not merged", detail: detail)
        case .mergeChangedSince: return Problem(.conflict, code: "unmerge_conflict", title: "The merge cannot be undone", detail: detail)
        case .idempotencyKeyReused:
            return Problem(.unprocessableContent, code: "idempotency_key_reused", title: "Idempotency-Key reused", detail: detail)
        case .idempotencyKeyInUse:
            return Problem(
                .conflict, code: "idempotency_key_in_use", title: "Idempotency-Key in use", detail: detail, headers: [.retryAfter: "1"]
            )
        case .tokenNotFound: return .notFound(detail)
        case .tokenNameTaken: return Problem(.conflict, code: "token_name_taken", title: "Token name in use", detail: detail)
        case .poolsNeedTriggerScope:
            return Problem(.unprocessableContent, code: "pools_need_trigger_scope", title: "Pools bind trigger tokens only", detail: detail)
        }
    }
}
