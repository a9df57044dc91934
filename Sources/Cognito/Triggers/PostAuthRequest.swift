/// What a post-authentication or post-confirmation trigger tells: the user Cognito just signed
/// in or confirmed, with their attributes.
///
/// Both triggers carry the same request, and both are where StableID learns a user's new `sub`
/// in the target pool and links it, so one type serves both.
public struct PostAuthRequest: Sendable, Equatable {
    /// The event's `userName`: the user's username in the target pool (a UUID when the pool
    /// signs in by email or phone number).
    public var userName: String
    /// The user's `sub` in the target pool; parsing refuses an event without it.
    public var sub: String
    /// `request.userAttributes`, `sub` included. Cognito writes every value as a string:
    /// `email_verified` is "true" or "false", `identities` is JSON text.
    public var userAttributes: [String: String]
    /// `request.newDeviceUsed`; false for post confirmation, which has no such field.
    public var newDeviceUsed: Bool
    /// `request.clientMetadata`: key-value pairs the client passed for Lambda triggers.
    public var clientMetadata: [String: String]

    /// `sub` is written into `userAttributes` too, so the two cannot disagree.
    public init(
        userName: String, sub: String, userAttributes: [String: String] = [:], newDeviceUsed: Bool = false,
        clientMetadata: [String: String] = [:]
    ) {
        self.userName = userName
        self.sub = sub
        self.userAttributes = userAttributes
        self.userAttributes["sub"] = sub
        self.newDeviceUsed = newDeviceUsed
        self.clientMetadata = clientMetadata
    }

    /// The `email` attribute; nil when absent or empty.
    public var email: String? {
        guard let email = userAttributes["email"], !email.isEmpty else { return nil }
        return email
    }

    /// Whether the pool has verified the email. Only a verified email may ever link two
    /// identities (an unverified one would let anyone claim someone else's account), so anything
    /// but "true" counts as unverified.
    public var emailVerified: Bool {
        userAttributes["email_verified"]?.lowercased() == "true"
    }

    /// `cognito:user_status`: CONFIRMED, EXTERNAL_PROVIDER for a federated user, and so on.
    public var userStatus: String? {
        userAttributes["cognito:user_status"]
    }

    /// The `identities` attribute of a federated user: JSON text listing the external accounts
    /// (`providerName`, `userId`, …), as `FederatedIdentity.parse(attribute:)` reads it.
    public var identitiesAttribute: String? {
        userAttributes["identities"]
    }

    /// A custom attribute, named with or without its `custom:` prefix (`stable_id` or
    /// `custom:stable_id`).
    public func customAttribute(_ name: String) -> String? {
        userAttributes[name.hasPrefix("custom:") ? name : "custom:" + name]
    }
}
