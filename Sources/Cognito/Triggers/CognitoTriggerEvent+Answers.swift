public import Foundation

/// Answers: the event with `response` filled in, as the JSON bytes Cognito expects back.
///
/// Each starts from the `response` Cognito sent (an object of `null`s, or `{}`) and sets only
/// StableID's fields, the way a Lambda function mutates and returns its event; everything else in
/// the event goes back unchanged, except `request.password`, which reading the event removed.
extension CognitoTriggerEvent {
    /// The claim that carries the stable ID in ID and access tokens.
    public static let stableIDClaim = "stable_id"

    /// This event with `response` replaced, as compact JSON with sorted keys.
    public func answering(response: TriggerJSON) -> Data {
        var members = json
        members["response"] = response
        return Data(TriggerJSON.object(members).jsonText.utf8)
    }

    /// The event as received (a `null` or missing `response` becomes `{}`): the answer to post
    /// authentication and post confirmation, which expect nothing back, and to a
    /// machine-to-machine token event, which gets no stable ID.
    public func answeringUnchanged() -> Data {
        switch response {
        case .none, .some(.null):
            return answering(response: .object([:]))
        case .some(let received):
            return answering(response: received)
        }
    }

    /// The answer to a migrate-user event: create the user with these attributes and this status.
    ///
    /// `sub` is dropped from `attributes` whatever the caller passes: Cognito assigns the new
    /// user's `sub` itself and fails the migration when an answer sets it. Put the stable ID in a
    /// custom attribute (`custom:stable_id`) instead, if the target pool has one. `messageAction`
    /// is always `SUPPRESS`: a user who is only signing in must not get a welcome message.
    ///
    /// - Parameters:
    ///   - finalStatus: nil picks the status for the source: `CONFIRMED` at sign-in,
    ///     `RESET_REQUIRED` in the forgot-password flow.
    ///   - desiredDeliveryMediums: `EMAIL` and/or `SMS`; left as received when nil.
    ///   - forceAliasCreation: left as received when nil.
    public func answeringMigration(
        attributes: [String: String], finalStatus: MigrationFinalStatus? = nil, desiredDeliveryMediums: [String]? = nil,
        forceAliasCreation: Bool? = nil
    ) throws(TriggerEventError) -> Data {
        let defaultStatus: MigrationFinalStatus
        switch triggerSource {
        case "UserMigration_Authentication": defaultStatus = .confirmed
        case "UserMigration_ForgotPassword": defaultStatus = .resetRequired
        default: throw TriggerEventError.answerMismatch(answer: "migration", triggerSource: TriggerEventError.clipped(triggerSource))
        }

        var userAttributes: [String: TriggerJSON] = [:]
        for (name, value) in attributes where name != "sub" {
            userAttributes[name] = .string(value)
        }
        var response = self.response?.objectValue ?? [:]
        response["userAttributes"] = .object(userAttributes)
        response["finalUserStatus"] = .string((finalStatus ?? defaultStatus).rawValue)
        response["messageAction"] = .string("SUPPRESS")
        if let desiredDeliveryMediums {
            response["desiredDeliveryMediums"] = .array(desiredDeliveryMediums.map(TriggerJSON.string))
        }
        if let forceAliasCreation {
            response["forceAliasCreation"] = .bool(forceAliasCreation)
        }
        return answering(response: .object(response))
    }

    /// The answer to a pre token generation event: add `stable_id` to the ID token, and for
    /// event versions 2 and 3 to the access token too.
    public func answeringTokenGeneration(stableID: String) throws(TriggerEventError) -> Data {
        try answeringTokenGeneration(claims: [Self.stableIDClaim: stableID])
    }

    /// The answer to a pre token generation event that adds (or overrides) string claims.
    ///
    /// Version 1: `response.claimsOverrideDetails.claimsToAddOrOverride`. Versions 2 and 3:
    /// `response.claimsAndScopeOverrideDetails.idTokenGeneration.claimsToAddOrOverride` and
    /// `….accessTokenGeneration.claimsToAddOrOverride`. Other members already in those objects
    /// are kept.
    public func answeringTokenGeneration(claims: [String: String]) throws(TriggerEventError) -> Data {
        guard TokenGenerationRequest.Source(rawValue: triggerSource) != nil else {
            throw TriggerEventError.answerMismatch(answer: "token generation", triggerSource: TriggerEventError.clipped(triggerSource))
        }
        var response = self.response?.objectValue ?? [:]
        switch try tokenEventVersion() {
        case .v1:
            response["claimsOverrideDetails"] = .object(Self.adding(claims, to: response["claimsOverrideDetails"]))
        case .v2, .v3:
            var details = response["claimsAndScopeOverrideDetails"]?.objectValue ?? [:]
            details["idTokenGeneration"] = .object(Self.adding(claims, to: details["idTokenGeneration"]))
            details["accessTokenGeneration"] = .object(Self.adding(claims, to: details["accessTokenGeneration"]))
            response["claimsAndScopeOverrideDetails"] = .object(details)
        }
        return answering(response: .object(response))
    }

    /// `details` (an object, or `null` as Cognito sends it) with `claims` merged into its
    /// `claimsToAddOrOverride`.
    private static func adding(_ claims: [String: String], to details: TriggerJSON?) -> [String: TriggerJSON] {
        var details = details?.objectValue ?? [:]
        var added = details["claimsToAddOrOverride"]?.objectValue ?? [:]
        for (name, value) in claims {
            added[name] = .string(value)
        }
        details["claimsToAddOrOverride"] = .object(added)
        return details
    }
}
