public import Foundation

/// A Cognito user-pool trigger event, exactly as Cognito sends it to a Lambda function, and as
/// `POST /v1/cognito/triggers` receives it.
///
/// The event is kept whole (`json`) because the answer Cognito expects is the same event with
/// `response` filled in: fields this type does not model (`validationData`, new fields Cognito
/// may add) go back as they came. The one exception is `request.password` of a migrate-user
/// event: it is taken out when the event is read and kept only as a `TriggerPassword`, so no
/// answer, encoding, description or dump of the event can contain it. Cognito ignores `request`
/// in an answer, so leaving the password out changes nothing for it.
///
/// Reading is two steps: `init(data:)` checks the common header every trigger has and fails with
/// `TriggerEventError.malformed`; `typedRequest()` reads the request of the triggers StableID
/// handles and fails with `unsupportedTrigger` for the others, so a caller can still answer an
/// unknown event unchanged if it chooses to.
public struct CognitoTriggerEvent: Sendable, Equatable {
    /// `callerContext`: who called Cognito.
    public struct CallerContext: Sendable, Equatable {
        /// `callerContext.awsSdkVersion`.
        public var awsSdkVersion: String?
        /// `callerContext.clientId`: the app client the user signed in through.
        public var clientID: String?

        public init(awsSdkVersion: String? = nil, clientID: String? = nil) {
            self.awsSdkVersion = awsSdkVersion
            self.clientID = clientID
        }
    }

    /// The trigger source of machine-to-machine tokens, the one event without a user.
    static let clientCredentialsSource = "TokenGeneration_ClientCredentials"

    /// `version`: "1" for most triggers; "1", "2" or "3" for pre token generation, where it
    /// decides the response shape. "1" when absent.
    public let version: String
    /// `triggerSource`, such as `UserMigration_Authentication`.
    public let triggerSource: String
    /// `region`; taken from the pool ID (`eu-west-1_AbC`) when absent.
    public let region: String
    /// `userPoolId`: the pool that invoked the trigger (the target pool of a migration).
    public let userPoolID: String
    /// `userName`. Required for every trigger but machine-to-machine token generation.
    public let userName: String?
    public let callerContext: CallerContext
    /// The whole event as received, less `request.password`.
    public let json: [String: TriggerJSON]
    /// `request.password`, taken out of `json`.
    let password: TriggerPassword?

    /// `request`, less `password`; empty when absent or `null`.
    public var request: [String: TriggerJSON] {
        json["request"]?.objectValue ?? [:]
    }

    /// `response` as received: usually an object whose members are all `null`, or `{}`.
    public var response: TriggerJSON? {
        json["response"]
    }

    /// Reads a request body. Any body that is not a JSON object with the common header fails
    /// with `.malformed`, whose message never quotes the body (it may hold a password).
    public init(data: Data) throws(TriggerEventError) {
        let json: TriggerJSON
        do {
            json = try JSONDecoder().decode(TriggerJSON.self, from: data)
        } catch {
            // The decoder's own message may quote the text near the error: not passed on.
            throw TriggerEventError.malformed("the body is not JSON")
        }
        try self.init(json: json)
    }

    /// Reads an event already parsed as JSON.
    public init(json: TriggerJSON) throws(TriggerEventError) {
        guard case .object(var members) = json else {
            throw TriggerEventError.malformed("the event is not a JSON object")
        }
        let header = TriggerFields(members)
        let triggerSource = try header.requiredString("triggerSource")
        let userPoolID = try header.requiredString("userPoolId")
        let userName = try header.string("userName")
        if userName == nil && triggerSource != Self.clientCredentialsSource {
            throw TriggerEventError.malformed("userName is missing")
        }
        let caller = try header.object("callerContext")
        self.callerContext = try CallerContext(
            awsSdkVersion: caller?.string("awsSdkVersion"), clientID: caller?.string("clientId")
        )
        self.version = try header.string("version") ?? "1"
        self.region = try header.string("region") ?? Self.region(ofPool: userPoolID)
        self.triggerSource = triggerSource
        self.userPoolID = userPoolID
        self.userName = userName

        // Take the password out of the kept event before anything else can see it.
        if var request = try header.object("request")?.members {
            self.password = try TriggerFields(request, at: "request.").string("password").map(TriggerPassword.init)
            if request.removeValue(forKey: "password") != nil {
                members["request"] = .object(request)
            }
        } else {
            self.password = nil
        }
        self.json = members
    }

    /// A pool ID is `<region>_<suffix>`.
    private static func region(ofPool poolID: String) -> String {
        guard let underscore = poolID.firstIndex(of: "_") else { return "" }
        return String(poolID[..<underscore])
    }
}

extension CognitoTriggerEvent: Codable {
    /// Decodes as `init(json:)` reads; errors are `TriggerEventError` or the decoder's.
    public init(from decoder: any Decoder) throws {
        try self.init(json: TriggerJSON(from: decoder))
    }

    /// Encodes `json`: the event as received, without the password.
    public func encode(to encoder: any Encoder) throws {
        try TriggerJSON.object(json).encode(to: encoder)
    }
}

extension CognitoTriggerEvent: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Names the trigger, the pool and the app client, for logs; no user name (personal data)
    /// and no request (it may hold a password).
    public var description: String {
        let source = TriggerEventError.clipped(triggerSource)
        let client = callerContext.clientID.map(TriggerEventError.clipped) ?? "-"
        return "CognitoTriggerEvent(\(source), version \(TriggerEventError.clipped(version)), pool \(userPoolID), client \(client))"
    }

    public var debugDescription: String { description }

    /// Only the header, so `dump` of an event shows neither the request nor the user name.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "version": version, "triggerSource": triggerSource, "region": region, "userPoolID": userPoolID,
                "callerContext": callerContext,
            ]
        )
    }
}
