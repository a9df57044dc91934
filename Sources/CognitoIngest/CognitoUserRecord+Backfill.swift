public import IdentityMap

extension CognitoUserRecord {
    /// What a backfill stages for this user. The map keeps no Cognito status, federated user ID,
    /// custom attributes or dates yet, so those stop here.
    public var backfillRecord: BackfillRecord {
        BackfillRecord(sub: sub, username: username, email: email, emailVerified: emailVerified, provider: provider, enabled: enabled)
    }
}
