extension CognitoTriggerEvent {
    /// The request typed by `triggerSource`, for the triggers StableID handles.
    ///
    /// Throws `.unsupportedTrigger` for any other source, `.unsupportedVersion` for a pre token
    /// generation event of an unknown version, and `.malformed` (naming the field) when the
    /// request lacks what the trigger always carries: the password at a migration sign-in, the
    /// `sub` after authentication or confirmation.
    public func typedRequest() throws(TriggerEventError) -> TriggerRequest {
        let request = TriggerFields(self.request, at: "request.")
        switch triggerSource {
        case "UserMigration_Authentication":
            guard let password else { throw TriggerEventError.malformed("request.password is missing") }
            return try .userMigrationAuthentication(migrationRequest(request, password: password))
        case "UserMigration_ForgotPassword":
            return try .userMigrationForgotPassword(migrationRequest(request, password: nil))
        case "PostAuthentication_Authentication":
            return try .postAuthentication(postAuthRequest(request))
        case TriggerRequest.PostConfirmationKind.signUp.rawValue:
            return try .postConfirmation(postAuthRequest(request), kind: .signUp)
        case TriggerRequest.PostConfirmationKind.forgotPassword.rawValue:
            return try .postConfirmation(postAuthRequest(request), kind: .forgotPassword)
        case Self.clientCredentialsSource:
            _ = try tokenEventVersion()
            return try .clientCredentialsTokenGeneration(scopes: request.stringArray("scopes") ?? [])
        default:
            guard let source = TokenGenerationRequest.Source(rawValue: triggerSource) else {
                throw TriggerEventError.unsupportedTrigger(TriggerEventError.clipped(triggerSource))
            }
            return try .tokenGeneration(tokenGenerationRequest(request, source: source))
        }
    }

    /// The pre token generation event version, which decides the response shape.
    func tokenEventVersion() throws(TriggerEventError) -> TokenGenerationRequest.EventVersion {
        guard let eventVersion = TokenGenerationRequest.EventVersion(eventVersion: version) else {
            throw TriggerEventError.unsupportedVersion(
                triggerSource: TriggerEventError.clipped(triggerSource), version: TriggerEventError.clipped(version)
            )
        }
        return eventVersion
    }

    /// `userName`, which every trigger but machine-to-machine token generation has (the header
    /// check already made sure).
    private func requiredUserName() throws(TriggerEventError) -> String {
        guard let userName else { throw TriggerEventError.malformed("userName is missing") }
        return userName
    }

    private func migrationRequest(_ request: TriggerFields, password: TriggerPassword?) throws(TriggerEventError) -> UserMigrationRequest {
        try UserMigrationRequest(
            userName: requiredUserName(),
            password: password,
            validationData: request.stringMap("validationData"),
            clientMetadata: request.stringMap("clientMetadata")
        )
    }

    private func postAuthRequest(_ request: TriggerFields) throws(TriggerEventError) -> PostAuthRequest {
        let attributes = try request.stringMap("userAttributes")
        guard let sub = attributes["sub"], !sub.isEmpty else {
            throw TriggerEventError.malformed("request.userAttributes.sub is missing")
        }
        return try PostAuthRequest(
            userName: requiredUserName(),
            sub: sub,
            userAttributes: attributes,
            newDeviceUsed: request.bool("newDeviceUsed") ?? false,
            clientMetadata: request.stringMap("clientMetadata")
        )
    }

    private func tokenGenerationRequest(
        _ request: TriggerFields, source: TokenGenerationRequest.Source
    ) throws(TriggerEventError) -> TokenGenerationRequest {
        let groups = try request.object("groupConfiguration")
        let groupConfiguration = try TokenGenerationRequest.GroupConfiguration(
            groupsToOverride: groups?.stringArray("groupsToOverride") ?? [],
            iamRolesToOverride: groups?.stringArray("iamRolesToOverride") ?? [],
            preferredRole: groups?.string("preferredRole")
        )
        return try TokenGenerationRequest(
            source: source,
            version: tokenEventVersion(),
            userName: requiredUserName(),
            userAttributes: request.stringMap("userAttributes"),
            groupConfiguration: groupConfiguration,
            scopes: request.stringArray("scopes"),
            clientMetadata: request.stringMap("clientMetadata")
        )
    }
}
