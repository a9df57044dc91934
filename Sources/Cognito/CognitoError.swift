public import Curl

/// A failed Cognito call, typed from the AWS error body's `__type`.
///
/// Carries Cognito's own message (which names no secret) but never the request: passwords and
/// attribute values sent in it must not reach logs or errors.
public enum CognitoError: Error, Sendable, CustomStringConvertible, Equatable {
    case service(CognitoErrorType, message: String, status: Int)
    case transport(CurlError.Kind, message: String)
    case malformedResponse(operation: String)
    /// The client cannot be set up as configured: no region, an endpoint that is not a URL, no
    /// credentials anywhere, an unknown profile. Retrying will not help; the operator must fix it.
    case configuration(String)
    case deadlineExceeded(operation: String, attempts: Int)

    public var type: CognitoErrorType? {
        if case .service(let type, _, _) = self { return type }
        return nil
    }

    public var description: String {
        switch self {
        case .service(let type, let message, let status): return "Cognito \(type.rawValue) (HTTP \(status)): \(message)"
        case .transport(let kind, let message): return "Cognito unreachable (\(kind)): \(message)"
        case .malformedResponse(let operation): return "Cognito answered \(operation) with an unreadable body"
        case .configuration(let message): return message
        case .deadlineExceeded(let operation, let attempts):
            return "\(operation) did not succeed within its deadline (\(attempts) attempts)"
        }
    }

    /// Throttling, server errors and transport failures are worth another try.
    public var isRetryable: Bool {
        switch self {
        case .service(let type, _, let status):
            return status >= 500 || type == .tooManyRequests || type == .throttling || type == .internalError
        case .transport(let kind, _):
            return kind == .timeout || kind == .connect
        default:
            return false
        }
    }

    /// Whether the failed request may have reached Cognito and been acted on: a timeout or a 5xx
    /// may come after Cognito did the work, throttling and a connection never made may not.
    public var mayHaveBeenProcessed: Bool {
        switch self {
        case .service(let type, _, _):
            return !(type == .tooManyRequests || type == .throttling)
        case .transport(let kind, _):
            return kind != .connect
        default:
            return false
        }
    }

    /// Whether a ListUsers call that sent a saved `PaginationToken` was refused for the token: AWS
    /// answers `InvalidParameterException`, moto (and other AWS JSON APIs) `InvalidToken`. Only
    /// meaningful for the first call of a read that started from a saved token, where the token is
    /// the one thing that differs from a call that worked; an expired or missing credential is a
    /// different error and never counts.
    public var rejectsPaginationToken: Bool {
        guard case .service(let type, _, let status) = self, (400..<500).contains(status) else { return false }
        switch type {
        case .invalidParameter: return true
        case .other(let name): return name == "InvalidToken"
        default: return false
        }
    }
}

/// The AWS exception names StableID handles; anything else keeps its name in `.other`.
public enum CognitoErrorType: Sendable, Hashable {
    case userNotFound, notAuthorized, tooManyRequests, throttling, invalidParameter, invalidPassword, resourceNotFound
    case userNotConfirmed, passwordResetRequired, usernameExists, limitExceeded, internalError, aliasExists, codeMismatch
    case other(String)

    init(awsType: String) {
        // `__type` may be `com.amazonaws…#UserNotFoundException` or just the name.
        let name = awsType.split(separator: "#").last.map(String.init) ?? awsType
        switch name {
        case "UserNotFoundException": self = .userNotFound
        case "NotAuthorizedException": self = .notAuthorized
        case "TooManyRequestsException": self = .tooManyRequests
        case "ThrottlingException": self = .throttling
        case "InvalidParameterException": self = .invalidParameter
        case "InvalidPasswordException": self = .invalidPassword
        case "ResourceNotFoundException": self = .resourceNotFound
        case "UserNotConfirmedException": self = .userNotConfirmed
        case "PasswordResetRequiredException": self = .passwordResetRequired
        case "UsernameExistsException": self = .usernameExists
        case "LimitExceededException": self = .limitExceeded
        case "InternalErrorException": self = .internalError
        case "AliasExistsException": self = .aliasExists
        case "CodeMismatchException": self = .codeMismatch
        default: self = .other(name)
        }
    }

    public var rawValue: String {
        switch self {
        case .userNotFound: return "UserNotFoundException"
        case .notAuthorized: return "NotAuthorizedException"
        case .tooManyRequests: return "TooManyRequestsException"
        case .throttling: return "ThrottlingException"
        case .invalidParameter: return "InvalidParameterException"
        case .invalidPassword: return "InvalidPasswordException"
        case .resourceNotFound: return "ResourceNotFoundException"
        case .userNotConfirmed: return "UserNotConfirmedException"
        case .passwordResetRequired: return "PasswordResetRequiredException"
        case .usernameExists: return "UsernameExistsException"
        case .limitExceeded: return "LimitExceededException"
        case .internalError: return "InternalErrorException"
        case .aliasExists: return "AliasExistsException"
        case .codeMismatch: return "CodeMismatchException"
        case .other(let name): return name
        }
    }
}
