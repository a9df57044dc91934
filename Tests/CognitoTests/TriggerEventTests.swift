import Cognito
import Foundation
import Testing

/// Cognito trigger events as Cognito sends them to a Lambda function (shapes from the Cognito
/// developer guide's trigger pages), the typed view of each, and the answers built from them.
@Suite("Cognito trigger events", .timeLimit(.minutes(2)))
struct TriggerEventTests {
    static let password = "Sw0rdfish!Secret-42"

    static let migrationSignIn = #"""
        {
          "version": "1",
          "triggerSource": "UserMigration_Authentication",
          "region": "eu-west-1",
          "userPoolId": "eu-west-1_TargetPool",
          "userName": "alice@example.com",
          "callerContext": { "awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "7abcdefghijklmnopqrstuvwx1" },
          "request": {
            "password": "Sw0rdfish!Secret-42",
            "validationData": { "device": "ios" },
            "clientMetadata": { "campaign": "spring" },
            "futureField": { "nested": [1, 2.5, true, null, "x/y"] }
          },
          "response": {
            "userAttributes": null, "finalUserStatus": null, "messageAction": null,
            "desiredDeliveryMediums": null, "forceAliasCreation": null, "enableSMSMFA": null
          },
          "unknownTopLevel": { "keep": "me", "big": 9007199254740993 }
        }
        """#

    static let migrationForgotPassword = #"""
        {
          "version": "1",
          "triggerSource": "UserMigration_ForgotPassword",
          "region": "eu-west-1",
          "userPoolId": "eu-west-1_TargetPool",
          "userName": "bob",
          "callerContext": { "awsSdkVersion": "aws-sdk-js-3.0", "clientId": "7abcdefghijklmnopqrstuvwx1" },
          "request": { "validationData": null, "clientMetadata": null },
          "response": {
            "userAttributes": null, "finalUserStatus": null, "messageAction": null,
            "desiredDeliveryMediums": null, "forceAliasCreation": null, "enableSMSMFA": null
          }
        }
        """#

    static let postAuthentication = #"""
        {
          "version": "1",
          "region": "us-east-1",
          "userPoolId": "us-east-1_EXAMPLE",
          "userName": "testuser",
          "callerContext": { "awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789" },
          "triggerSource": "PostAuthentication_Authentication",
          "request": {
            "userAttributes": {
              "sub": "4a709988-4061-4f3a-8a4b-4f1d6e5c2b10",
              "cognito:user_status": "CONFIRMED",
              "email_verified": "true",
              "email": "testuser@example.com",
              "custom:stable_id": "sid_01J8ZK"
            },
            "newDeviceUsed": true,
            "clientMetadata": { "source": "web" }
          },
          "response": {}
        }
        """#

    static let postAuthenticationFederated = #"""
        {
          "version": "1",
          "region": "us-east-1",
          "userPoolId": "us-east-1_EXAMPLE",
          "userName": "Google_1234567890",
          "callerContext": { "awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789" },
          "triggerSource": "PostAuthentication_Authentication",
          "request": {
            "userAttributes": {
              "sub": "9b2f1e6a-0000-4000-8000-000000000001",
              "cognito:user_status": "EXTERNAL_PROVIDER",
              "email_verified": "false",
              "email": "g@example.com",
              "identities": "[{\"userId\":\"1234567890\",\"providerName\":\"Google\",\"providerType\":\"Google\",\"issuer\":null,\"primary\":true,\"dateCreated\":1700000000000}]"
            },
            "newDeviceUsed": false
          },
          "response": {}
        }
        """#

    static func postConfirmation(_ source: String) -> String {
        #"""
        {
          "version": "1",
          "region": "us-east-1",
          "userPoolId": "us-east-1_EXAMPLE",
          "userName": "carol",
          "callerContext": { "awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789" },
          "triggerSource": "\#(source)",
          "request": {
            "userAttributes": {
              "sub": "11111111-2222-3333-4444-555555555555",
              "cognito:user_status": "CONFIRMED",
              "email_verified": "true",
              "email": "carol@example.com"
            },
            "clientMetadata": null
          },
          "response": {}
        }
        """#
    }

    static func tokenGeneration(source: String, version: String) -> String {
        let response = version == "1" ? #""claimsOverrideDetails": null"# : #""claimsAndScopeOverrideDetails": null"#
        let scopes = version == "1" ? "" : #""scopes": ["aws.cognito.signin.user.admin", "openid", "email"],"#
        return #"""
            {
              "version": "\#(version)",
              "triggerSource": "\#(source)",
              "region": "us-east-1",
              "userPoolId": "us-east-1_EXAMPLE",
              "userName": "testuser",
              "callerContext": { "awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "1example23456789" },
              "request": {
                "userAttributes": {
                  "sub": "a36036a8-9061-424d-a737-56d57dae7bbc",
                  "cognito:email_alias": "testuser@example.com",
                  "cognito:user_status": "CONFIRMED",
                  "email_verified": "true",
                  "email": "testuser@example.com"
                },
                "groupConfiguration": {
                  "groupsToOverride": ["group-1", "group-2"],
                  "iamRolesToOverride": ["arn:aws:iam::123456789012:role/role-1"],
                  "preferredRole": null
                },
                \#(scopes)
                "clientMetadata": { "app": "mobile" }
              },
              "response": { \#(response) }
            }
            """#
    }

    static let clientCredentials = #"""
        {
          "version": "3",
          "triggerSource": "TokenGeneration_ClientCredentials",
          "region": "us-east-1",
          "userPoolId": "us-east-1_EXAMPLE",
          "callerContext": { "awsSdkVersion": "aws-sdk-unknown-unknown", "clientId": "m2mclient" },
          "request": { "userAttributes": {}, "groupConfiguration": null, "scopes": ["orders/read"] },
          "response": { "claimsAndScopeOverrideDetails": null }
        }
        """#

    static let tokenSources = [
        "TokenGeneration_HostedAuth", "TokenGeneration_Authentication", "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice", "TokenGeneration_RefreshTokens",
    ]

    func read(_ text: String) throws -> CognitoTriggerEvent {
        try CognitoTriggerEvent(data: Data(text.utf8))
    }

    func json(_ data: Data) throws -> TriggerJSON {
        try JSONDecoder().decode(TriggerJSON.self, from: data)
    }

    /// The member at `path` (object keys) in `value`.
    func member(_ value: TriggerJSON, _ path: String...) -> TriggerJSON? {
        var current: TriggerJSON? = value
        for key in path { current = current?[key] }
        return current
    }

    /// Everything a reader could see of a value: its descriptions and its dump.
    func everyRendering(of value: Any) -> String {
        var dumped = ""
        dump(value, to: &dumped)
        return [String(describing: value), String(reflecting: value), "\(value)", dumped].joined(separator: "\n")
    }

    // MARK: - Reading

    @Test("a migration sign-in reads with its password, header and data")
    func migrationSignInReads() throws {
        let event = try read(Self.migrationSignIn)
        #expect(event.version == "1")
        #expect(event.triggerSource == "UserMigration_Authentication")
        #expect(event.region == "eu-west-1")
        #expect(event.userPoolID == "eu-west-1_TargetPool")
        #expect(event.userName == "alice@example.com")
        #expect(
            event.callerContext
                == CognitoTriggerEvent.CallerContext(awsSdkVersion: "aws-sdk-unknown-unknown", clientID: "7abcdefghijklmnopqrstuvwx1"))
        #expect(event.request["password"] == nil)

        guard case .userMigrationAuthentication(let request) = try event.typedRequest() else {
            Issue.record("not a migration sign-in")
            return
        }
        #expect(request.userName == "alice@example.com")
        #expect(request.password?.plaintext == Self.password)
        #expect(request.validationData == ["device": "ios"])
        #expect(request.clientMetadata == ["campaign": "spring"])
    }

    @Test("a forgot-password migration reads without a password")
    func migrationForgotPasswordReads() throws {
        let event = try read(Self.migrationForgotPassword)
        #expect(
            try event.typedRequest()
                == .userMigrationForgotPassword(
                    UserMigrationRequest(userName: "bob", password: nil, validationData: [:], clientMetadata: [:]))
        )
    }

    @Test("post authentication reads the user's attributes")
    func postAuthenticationReads() throws {
        guard case .postAuthentication(let request) = try read(Self.postAuthentication).typedRequest() else {
            Issue.record("not post authentication")
            return
        }
        #expect(request.userName == "testuser")
        #expect(request.sub == "4a709988-4061-4f3a-8a4b-4f1d6e5c2b10")
        #expect(request.email == "testuser@example.com")
        #expect(request.emailVerified)
        #expect(request.userStatus == "CONFIRMED")
        #expect(request.customAttribute("stable_id") == "sid_01J8ZK")
        #expect(request.customAttribute("custom:stable_id") == "sid_01J8ZK")
        #expect(request.newDeviceUsed)
        #expect(request.clientMetadata == ["source": "web"])
        #expect(request.identitiesAttribute == nil)
    }

    @Test("a federated user's identities arrive as JSON text and an unverified email reads as unverified")
    func postAuthenticationFederated() throws {
        guard case .postAuthentication(let request) = try read(Self.postAuthenticationFederated).typedRequest() else {
            Issue.record("not post authentication")
            return
        }
        #expect(!request.emailVerified)
        #expect(request.userStatus == "EXTERNAL_PROVIDER")
        let identities = try #require(request.identitiesAttribute)
        let parsed = try json(Data(identities.utf8))
        #expect(parsed.arrayValue?.first?["providerName"]?.stringValue == "Google")
        #expect(parsed.arrayValue?.first?["userId"]?.stringValue == "1234567890")
        #expect(!request.newDeviceUsed)
    }

    @Test("post confirmation reads for sign-up and for forgot password")
    func postConfirmationReads() throws {
        let expected = PostAuthRequest(
            userName: "carol", sub: "11111111-2222-3333-4444-555555555555",
            userAttributes: ["cognito:user_status": "CONFIRMED", "email_verified": "true", "email": "carol@example.com"]
        )
        #expect(
            try read(Self.postConfirmation("PostConfirmation_ConfirmSignUp")).typedRequest() == .postConfirmation(expected, kind: .signUp))
        #expect(
            try read(Self.postConfirmation("PostConfirmation_ConfirmForgotPassword")).typedRequest()
                == .postConfirmation(expected, kind: .forgotPassword)
        )
    }

    @Test("every user token generation source reads in versions 1, 2 and 3")
    func tokenGenerationReads() throws {
        for source in Self.tokenSources {
            for version in ["1", "2", "3"] {
                guard case .tokenGeneration(let request) = try read(Self.tokenGeneration(source: source, version: version)).typedRequest()
                else {
                    Issue.record("not token generation: \(source) \(version)")
                    continue
                }
                #expect(request.source.rawValue == source)
                #expect(request.version.rawValue == version)
                #expect(request.userName == "testuser")
                #expect(request.sub == "a36036a8-9061-424d-a737-56d57dae7bbc")
                #expect(request.userAttributes["email"] == "testuser@example.com")
                #expect(request.groupConfiguration.groupsToOverride == ["group-1", "group-2"])
                #expect(request.groupConfiguration.iamRolesToOverride == ["arn:aws:iam::123456789012:role/role-1"])
                #expect(request.groupConfiguration.preferredRole == nil)
                #expect(request.clientMetadata == ["app": "mobile"])
                let expectedScopes: [String]? = version == "1" ? nil : ["aws.cognito.signin.user.admin", "openid", "email"]
                #expect(request.scopes == expectedScopes)
                #expect(request.version.customizesAccessToken == (version != "1"))
            }
        }
    }

    @Test("a machine-to-machine token event reads without a user")
    func clientCredentialsReads() throws {
        let event = try read(Self.clientCredentials)
        #expect(event.userName == nil)
        #expect(try event.typedRequest() == .clientCredentialsTokenGeneration(scopes: ["orders/read"]))
        #expect(try event.typedRequest().userName == nil)
        let answer = try json(event.answeringUnchanged())
        #expect(answer == .object(event.json))
        #expect(throws: TriggerEventError.answerMismatch(answer: "token generation", triggerSource: "TokenGeneration_ClientCredentials")) {
            try event.answeringTokenGeneration(stableID: "sid_1")
        }
    }

    @Test("the region comes from the pool ID when the event has none")
    func regionFromPool() throws {
        let text = Self.postAuthentication.replacingOccurrences(of: #""region": "us-east-1","#, with: "")
        #expect(try read(text).region == "us-east-1")
    }

    // MARK: - Refusing

    @Test("an unknown trigger source is unsupported")
    func unknownTrigger() throws {
        for source in ["PreSignUp_SignUp", "CustomMessage_SignUp", "TokenGeneration_Future"] {
            let text = Self.postAuthentication.replacingOccurrences(of: "PostAuthentication_Authentication", with: source)
            let event = try read(text)
            #expect(throws: TriggerEventError.unsupportedTrigger(source)) { try event.typedRequest() }
            #expect(throws: TriggerEventError.answerMismatch(answer: "migration", triggerSource: source)) {
                try event.answeringMigration(attributes: [:])
            }
        }
        let long = String(repeating: "X", count: 500)
        let event = try read(Self.postAuthentication.replacingOccurrences(of: "PostAuthentication_Authentication", with: long))
        let error = try #require(throws: TriggerEventError.self) { try event.typedRequest() }
        #expect(error.description.count < 200)
    }

    @Test("a token event of an unknown version is unsupported")
    func unknownTokenVersion() throws {
        let event = try read(Self.tokenGeneration(source: "TokenGeneration_Authentication", version: "9"))
        #expect(throws: TriggerEventError.unsupportedVersion(triggerSource: "TokenGeneration_Authentication", version: "9")) {
            try event.typedRequest()
        }
        #expect(throws: TriggerEventError.unsupportedVersion(triggerSource: "TokenGeneration_Authentication", version: "9")) {
            try event.answeringTokenGeneration(stableID: "sid_1")
        }
    }

    @Test(
        "a body that is not a trigger event is malformed, naming the field",
        arguments: [
            ("not json at all", "not JSON"),
            ("[1, 2, 3]", "not a JSON object"),
            (#"{"userPoolId": "p", "userName": "u"}"#, "triggerSource"),
            (#"{"triggerSource": "PostAuthentication_Authentication", "userName": "u"}"#, "userPoolId"),
            (#"{"triggerSource": "PostAuthentication_Authentication", "userPoolId": "p"}"#, "userName"),
            (#"{"triggerSource": "PostAuthentication_Authentication", "userPoolId": "p", "userName": 42}"#, "userName"),
            (#"{"triggerSource": 7, "userPoolId": "p", "userName": "u"}"#, "triggerSource"),
            (#"{"triggerSource": "PostAuthentication_Authentication", "userPoolId": "p", "userName": "u", "request": "x"}"#, "request"),
            (
                #"{"triggerSource": "PostAuthentication_Authentication", "userPoolId": "p", "userName": "u", "callerContext": []}"#,
                "callerContext"
            ),
        ]
    )
    func malformedHeader(body: String, field: String) throws {
        let error = try #require(throws: TriggerEventError.self) { try CognitoTriggerEvent(data: Data(body.utf8)) }
        guard case .malformed(let message) = error else {
            Issue.record("not malformed: \(error)")
            return
        }
        #expect(message.contains(field))
        #expect(!message.contains("42"))
    }

    @Test("a malformed request is named by its field and never quotes the password")
    func malformedRequestHidesPassword() throws {
        // A truncated body, a password of the wrong type, a bad field next to the password.
        let truncated = String(Self.migrationSignIn.prefix(600))
        #expect(truncated.contains(Self.password))
        let bodies = [
            truncated,
            Self.migrationSignIn.replacingOccurrences(of: #""Sw0rdfish!Secret-42""#, with: "[\"Sw0rdfish!Secret-42\"]"),
            Self.migrationSignIn.replacingOccurrences(of: #"{ "campaign": "spring" }"#, with: "[\"Sw0rdfish!Secret-42\"]"),
            Self.migrationSignIn.replacingOccurrences(of: #""device": "ios""#, with: "\"Sw0rdfish!Secret-42\": 1"),
            Self.migrationSignIn.replacingOccurrences(
                of: #""userName": "alice@example.com""#, with: "\"userName\": [\"Sw0rdfish!Secret-42\"]"),
        ]
        let fields = ["not JSON", "request.password", "request.clientMetadata", "request.validationData", "userName"]
        for (body, field) in zip(bodies, fields) {
            let error = try #require(throws: TriggerEventError.self) { try read(body).typedRequest() }
            #expect(error.description.contains(field))
            #expect(!everyRendering(of: error).contains("Sw0rdfish"))
        }
    }

    @Test("a migration sign-in without a password, and a post authentication without a sub, are malformed")
    func missingRequiredRequestFields() throws {
        let noPassword = try read(Self.migrationSignIn.replacingOccurrences(of: #""password": "Sw0rdfish!Secret-42","#, with: ""))
        #expect(throws: TriggerEventError.malformed("request.password is missing")) { try noPassword.typedRequest() }
        let noSub = try read(Self.postAuthentication.replacingOccurrences(of: #""sub": "4a709988-4061-4f3a-8a4b-4f1d6e5c2b10","#, with: ""))
        #expect(throws: TriggerEventError.malformed("request.userAttributes.sub is missing")) { try noSub.typedRequest() }
    }

    // MARK: - The password stays hidden

    @Test("the password shows in no description, dump or encoding of the event and its request")
    func passwordNeverShown() throws {
        let event = try read(Self.migrationSignIn)
        let request = try event.typedRequest()
        #expect(!everyRendering(of: event).contains("Sw0rdfish"))
        #expect(!everyRendering(of: request).contains("Sw0rdfish"))
        #expect(everyRendering(of: request).contains("<redacted>"))
        #expect(!everyRendering(of: event.json).contains("Sw0rdfish"))
        let encoded = try JSONEncoder().encode(event)
        #expect(!String(decoding: encoded, as: UTF8.self).contains("Sw0rdfish"))
        #expect(!String(decoding: event.answeringUnchanged(), as: UTF8.self).contains("Sw0rdfish"))
        #expect(TriggerPassword(Self.password).description == "<redacted>")
        #expect(TriggerPassword(Self.password).debugDescription == "<redacted>")
    }

    // MARK: - Answers

    @Test("a migration answer sets the user, never sub, and drops the password")
    func migrationAnswer() throws {
        let event = try read(Self.migrationSignIn)
        let data = try event.answeringMigration(
            attributes: [
                "email": "alice@example.com", "email_verified": "true", "sub": "old-pool-sub", "custom:stable_id": "sid_01J8ZK",
            ],
            finalStatus: .confirmed
        )
        #expect(!String(decoding: data, as: UTF8.self).contains("Sw0rdfish"))
        let answer = try json(data)
        #expect(
            member(answer, "response", "userAttributes")
                == .object([
                    "email": .string("alice@example.com"), "email_verified": .string("true"), "custom:stable_id": .string("sid_01J8ZK"),
                ])
        )
        #expect(member(answer, "response", "userAttributes", "sub") == nil)
        #expect(member(answer, "response", "finalUserStatus")?.stringValue == "CONFIRMED")
        #expect(member(answer, "response", "messageAction")?.stringValue == "SUPPRESS")
        // Fields the answer leaves alone go back as Cognito sent them.
        #expect(member(answer, "response", "enableSMSMFA") == .null)
        #expect(member(answer, "response", "desiredDeliveryMediums") == .null)
        // The rest of the event, unknown fields included, comes back unchanged but for the password.
        #expect(member(answer, "request", "password") == nil)
        #expect(member(answer, "request", "validationData", "device")?.stringValue == "ios")
        #expect(
            member(answer, "request", "futureField", "nested")
                == .array([.integer(1), .number(2.5), .bool(true), .null, .string("x/y")])
        )
        #expect(member(answer, "unknownTopLevel") == .object(["keep": .string("me"), "big": .integer(9_007_199_254_740_993)]))
        #expect(member(answer, "triggerSource")?.stringValue == "UserMigration_Authentication")
        #expect(member(answer, "userName")?.stringValue == "alice@example.com")
        #expect(member(answer, "callerContext", "clientId")?.stringValue == "7abcdefghijklmnopqrstuvwx1")
        #expect(String(decoding: data, as: UTF8.self).contains(#""x/y""#))
        #expect(String(decoding: data, as: UTF8.self).contains("9007199254740993"))
    }

    @Test("a forgot-password migration answer defaults to RESET_REQUIRED and sets the optional fields given")
    func migrationForgotPasswordAnswer() throws {
        let event = try read(Self.migrationForgotPassword)
        let answer = try json(
            event.answeringMigration(attributes: ["email": "bob@example.com"], desiredDeliveryMediums: ["EMAIL"], forceAliasCreation: false)
        )
        #expect(member(answer, "response", "finalUserStatus")?.stringValue == "RESET_REQUIRED")
        #expect(member(answer, "response", "messageAction")?.stringValue == "SUPPRESS")
        #expect(member(answer, "response", "desiredDeliveryMediums") == .array([.string("EMAIL")]))
        #expect(member(answer, "response", "forceAliasCreation") == .bool(false))
        #expect(member(answer, "response", "userAttributes") == .object(["email": .string("bob@example.com")]))

        let explicit = try json(event.answeringMigration(attributes: [:], finalStatus: .confirmed))
        #expect(member(explicit, "response", "finalUserStatus")?.stringValue == "CONFIRMED")
    }

    @Test("a migration answer to another trigger, or a token answer to a migration, is refused")
    func answerMismatch() throws {
        #expect(throws: TriggerEventError.answerMismatch(answer: "migration", triggerSource: "PostAuthentication_Authentication")) {
            try read(Self.postAuthentication).answeringMigration(attributes: ["email": "x@example.com"], finalStatus: .confirmed)
        }
        #expect(throws: TriggerEventError.answerMismatch(answer: "token generation", triggerSource: "UserMigration_Authentication")) {
            try read(Self.migrationSignIn).answeringTokenGeneration(stableID: "sid_1")
        }
    }

    @Test("post authentication and post confirmation are answered with the event as it came")
    func unchangedAnswers() throws {
        for text in [
            Self.postAuthentication, Self.postAuthenticationFederated, Self.postConfirmation("PostConfirmation_ConfirmSignUp"),
            Self.postConfirmation("PostConfirmation_ConfirmForgotPassword"),
        ] {
            let event = try read(text)
            let answer = try json(event.answeringUnchanged())
            let received = try json(Data(text.utf8))
            #expect(answer == received)
            #expect(member(answer, "response") == .object([:]))
        }
        // A missing or null response becomes {}.
        let nullResponse = try read(Self.postAuthentication.replacingOccurrences(of: #""response": {}"#, with: #""response": null"#))
        let nullAnswer = try json(nullResponse.answeringUnchanged())
        #expect(member(nullAnswer, "response") == .object([:]))
    }

    @Test("a version 1 token answer adds stable_id to the ID token claims")
    func tokenAnswerVersion1() throws {
        for source in Self.tokenSources {
            let answer = try json(read(Self.tokenGeneration(source: source, version: "1")).answeringTokenGeneration(stableID: "sid_01J8ZK"))
            #expect(
                member(answer, "response", "claimsOverrideDetails", "claimsToAddOrOverride")
                    == .object(["stable_id": .string("sid_01J8ZK")]))
            #expect(member(answer, "response", "claimsAndScopeOverrideDetails") == nil)
            #expect(
                member(answer, "request", "groupConfiguration", "groupsToOverride") == .array([.string("group-1"), .string("group-2")]))
        }
    }

    @Test("a version 2 or 3 token answer adds stable_id to the ID and the access token claims")
    func tokenAnswerVersions2And3() throws {
        for source in Self.tokenSources {
            for version in ["2", "3"] {
                let event = try read(Self.tokenGeneration(source: source, version: version))
                let answer = try json(event.answeringTokenGeneration(stableID: "sid_01J8ZK"))
                let details = try #require(member(answer, "response", "claimsAndScopeOverrideDetails"))
                #expect(member(details, "idTokenGeneration", "claimsToAddOrOverride") == .object(["stable_id": .string("sid_01J8ZK")]))
                #expect(member(details, "accessTokenGeneration", "claimsToAddOrOverride") == .object(["stable_id": .string("sid_01J8ZK")]))
                #expect(member(answer, "response", "claimsOverrideDetails") == nil)
                #expect(member(answer, "request", "scopes")?.arrayValue?.count == 3)
            }
        }
    }

    @Test("a token answer keeps what the response already holds")
    func tokenAnswerMerges() throws {
        let v1 = Self.tokenGeneration(source: "TokenGeneration_RefreshTokens", version: "1").replacingOccurrences(
            of: #""claimsOverrideDetails": null"#,
            with: #""claimsOverrideDetails": { "claimsToAddOrOverride": { "tier": "gold" }, "claimsToSuppress": ["email"] }"#
        )
        let answer = try json(read(v1).answeringTokenGeneration(stableID: "sid_1"))
        #expect(
            member(answer, "response", "claimsOverrideDetails", "claimsToAddOrOverride")
                == .object(["tier": .string("gold"), "stable_id": .string("sid_1")]))
        #expect(member(answer, "response", "claimsOverrideDetails", "claimsToSuppress") == .array([.string("email")]))

        let v2 = Self.tokenGeneration(source: "TokenGeneration_Authentication", version: "2").replacingOccurrences(
            of: #""claimsAndScopeOverrideDetails": null"#,
            with:
                #""claimsAndScopeOverrideDetails": { "accessTokenGeneration": { "scopesToAdd": ["orders/read"] }, "idTokenGeneration": null }"#
        )
        let answer2 = try json(read(v2).answeringTokenGeneration(claims: ["stable_id": "sid_2", "tenant": "t1"]))
        let details = try #require(member(answer2, "response", "claimsAndScopeOverrideDetails"))
        #expect(member(details, "accessTokenGeneration", "scopesToAdd") == .array([.string("orders/read")]))
        #expect(member(details, "accessTokenGeneration", "claimsToAddOrOverride", "stable_id")?.stringValue == "sid_2")
        #expect(member(details, "idTokenGeneration", "claimsToAddOrOverride", "tenant")?.stringValue == "t1")
    }

    // MARK: - Coding

    @Test("an event decodes and encodes through Codable, unknown fields included")
    func codableRoundTrip() throws {
        let original = try read(Self.postAuthenticationFederated)
        let decoded = try JSONDecoder().decode(CognitoTriggerEvent.self, from: Data(Self.postAuthenticationFederated.utf8))
        #expect(decoded == original)
        let again = try JSONDecoder().decode(CognitoTriggerEvent.self, from: JSONEncoder().encode(decoded))
        #expect(again == original)
        #expect(try json(JSONEncoder().encode(decoded)) == json(Data(Self.postAuthenticationFederated.utf8)))

        let migration = try read(Self.migrationSignIn)
        let reencoded = try JSONDecoder().decode(CognitoTriggerEvent.self, from: JSONEncoder().encode(migration))
        #expect(reencoded.json == migration.json)
        #expect(member(.object(reencoded.json), "unknownTopLevel", "keep")?.stringValue == "me")
    }

    @Test("JSON text escapes what it must and sorts keys")
    func jsonText() {
        let value = TriggerJSON.object([
            "b": .string("quote \" backslash \\ newline \n tab \t bell \u{07} slash / é"),
            "a": .array([.integer(-3), .number(0.5), .bool(false), .null]),
        ])
        #expect(value.jsonText == #"{"a":[-3,0.5,false,null],"b":"quote \" backslash \\ newline \n tab \t bell \u0007 slash / é"}"#)
        #expect(TriggerJSON.number(.nan).jsonText == "null")
    }

    // MARK: - SECRET_HASH

    @Test("SECRET_HASH is Base64(HMAC-SHA-256(secret, username + client ID))")
    func secretHash() {
        // Vectors computed with Python: base64.b64encode(hmac.new(secret, (username + client).encode(), hashlib.sha256).digest())
        #expect(
            CognitoSecretHash.compute(
                clientSecret: "1example23456789secret0abcdefghijklmnopqrstuvwx", username: "alice@example.com",
                clientID: "7abcdefghijklmnopqrstuvwx1"
            ) == "kwX38rGbvLCjw3j76IYn25zjjNIZlggFkgd5+LYZLfo="
        )
        #expect(
            CognitoSecretHash.compute(clientSecret: "s3cr3t", username: "bob", clientID: "client")
                == "plkv/X90GHPjA+zIVU7e8JRJQm9PwWHicu+zjUWqc2Q=")
        #expect(
            CognitoSecretHash.compute(clientSecret: "k", username: "jos\u{E9}", clientID: "c")
                == "4lacbfAL8aGKmmQP3ZXRMyVgYDwMac1hIfotEBuFKT4=")
    }
}
