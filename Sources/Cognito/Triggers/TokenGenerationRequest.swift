/// What a pre token generation trigger asks: which claims to add to the tokens Cognito is about
/// to issue to a user.
///
/// StableID answers with a `stable_id` claim, so a backend reads the stable ID from the token
/// and needs no lookup. The event `version` decides where the answer goes: version 1 can only
/// change the ID token; versions 2 and 3 change the ID and the access token, with one response
/// shape for both.
public struct TokenGenerationRequest: Sendable, Equatable {
    /// The user flows that issue tokens (`triggerSource`). The machine-to-machine source,
    /// `TokenGeneration_ClientCredentials`, is not here: it has no user (see
    /// `TriggerRequest.clientCredentialsTokenGeneration`).
    public enum Source: String, Sendable, CaseIterable {
        case hostedAuth = "TokenGeneration_HostedAuth"
        case authentication = "TokenGeneration_Authentication"
        case newPasswordChallenge = "TokenGeneration_NewPasswordChallenge"
        case authenticateDevice = "TokenGeneration_AuthenticateDevice"
        case refreshTokens = "TokenGeneration_RefreshTokens"
    }

    /// The event `version`, which the pool's trigger configuration (`LambdaVersion` V1_0, V2_0,
    /// V3_0) chooses and which decides the response shape.
    public enum EventVersion: String, Sendable, CaseIterable {
        case v1 = "1"
        case v2 = "2"
        case v3 = "3"

        /// Reads the event's `version` ("1", "2", "3"); the configuration's spelling ("V2_0") is
        /// taken too, in case a proxy forwards that. Nil for anything else.
        public init?(eventVersion: String) {
            switch eventVersion {
            case "1", "V1_0": self = .v1
            case "2", "V2_0": self = .v2
            case "3", "V3_0": self = .v3
            default: return nil
            }
        }

        /// Versions 2 and 3 can add claims to the access token as well as the ID token.
        public var customizesAccessToken: Bool { self != .v1 }
    }

    /// `request.groupConfiguration`: the user's groups and roles as Cognito would write them.
    public struct GroupConfiguration: Sendable, Equatable {
        public var groupsToOverride: [String]
        public var iamRolesToOverride: [String]
        public var preferredRole: String?

        public init(groupsToOverride: [String] = [], iamRolesToOverride: [String] = [], preferredRole: String? = nil) {
            self.groupsToOverride = groupsToOverride
            self.iamRolesToOverride = iamRolesToOverride
            self.preferredRole = preferredRole
        }
    }

    public var source: Source
    public var version: EventVersion
    /// The event's `userName`: the user's username in the pool.
    public var userName: String
    /// `request.userAttributes`, all values strings, `sub` included.
    public var userAttributes: [String: String]
    public var groupConfiguration: GroupConfiguration
    /// `request.scopes`, sent with versions 2 and 3; nil when absent.
    public var scopes: [String]?
    /// `request.clientMetadata`: key-value pairs the client passed for Lambda triggers.
    public var clientMetadata: [String: String]

    public init(
        source: Source, version: EventVersion, userName: String, userAttributes: [String: String] = [:],
        groupConfiguration: GroupConfiguration = GroupConfiguration(), scopes: [String]? = nil, clientMetadata: [String: String] = [:]
    ) {
        self.source = source
        self.version = version
        self.userName = userName
        self.userAttributes = userAttributes
        self.groupConfiguration = groupConfiguration
        self.scopes = scopes
        self.clientMetadata = clientMetadata
    }

    /// The user's `sub`, the key StableID looks the stable ID up by.
    public var sub: String? {
        userAttributes["sub"]
    }
}
