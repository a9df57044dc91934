/// What a migrate-user trigger asks: create `userName`, who exists in a source pool but not yet
/// in this one.
///
/// At sign-in (`UserMigration_Authentication`) Cognito passes the password the user typed, which
/// the caller checks against the source pool; in the forgot-password flow
/// (`UserMigration_ForgotPassword`) there is none. Printing this value never shows the password
/// (`TriggerPassword` redacts itself).
public struct UserMigrationRequest: Sendable, Equatable {
    /// The event's `userName`: what the user typed to sign in (a username, or an email or phone
    /// number when the pool signs in by those).
    public var userName: String
    /// `request.password`; nil in the forgot-password flow.
    public var password: TriggerPassword?
    /// `request.validationData`: key-value pairs the client sent with the sign-in.
    public var validationData: [String: String]
    /// `request.clientMetadata`: key-value pairs the client passed for Lambda triggers.
    public var clientMetadata: [String: String]

    public init(
        userName: String, password: TriggerPassword?, validationData: [String: String] = [:], clientMetadata: [String: String] = [:]
    ) {
        self.userName = userName
        self.password = password
        self.validationData = validationData
        self.clientMetadata = clientMetadata
    }
}
