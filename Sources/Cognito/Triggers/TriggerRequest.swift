/// A trigger event's request, typed by its `triggerSource`: what the endpoint switches on.
///
/// Only the triggers StableID handles (DESIGN §4); any other source is
/// `TriggerEventError.unsupportedTrigger`, so a trigger wired to the endpoint by mistake fails
/// loudly instead of being answered with something Cognito would misread.
public enum TriggerRequest: Sendable, Equatable {
    /// Which confirmation a post-confirmation trigger reports.
    public enum PostConfirmationKind: String, Sendable, CaseIterable {
        case signUp = "PostConfirmation_ConfirmSignUp"
        case forgotPassword = "PostConfirmation_ConfirmForgotPassword"
    }

    /// `UserMigration_Authentication`: a sign-in by a user the pool does not have yet; the
    /// request has the password.
    case userMigrationAuthentication(UserMigrationRequest)
    /// `UserMigration_ForgotPassword`: a forgot-password request by such a user; no password.
    case userMigrationForgotPassword(UserMigrationRequest)
    /// `PostAuthentication_Authentication`.
    case postAuthentication(PostAuthRequest)
    /// `PostConfirmation_ConfirmSignUp` and `PostConfirmation_ConfirmForgotPassword`.
    case postConfirmation(PostAuthRequest, kind: PostConfirmationKind)
    /// Every user `TokenGeneration_*` source, in any known event version.
    case tokenGeneration(TokenGenerationRequest)
    /// `TokenGeneration_ClientCredentials` (version 3 only): an access token for an app client,
    /// with no user and so no stable ID; answer it with the event unchanged.
    case clientCredentialsTokenGeneration(scopes: [String])

    /// The user the trigger is about; nil for a machine-to-machine token.
    public var userName: String? {
        switch self {
        case .userMigrationAuthentication(let request), .userMigrationForgotPassword(let request):
            return request.userName
        case .postAuthentication(let request), .postConfirmation(let request, _):
            return request.userName
        case .tokenGeneration(let request):
            return request.userName
        case .clientCredentialsTokenGeneration:
            return nil
        }
    }
}
