/// How an identity came to be linked to its person: recorded on the identity and in its event,
/// so that migration progress and audits can be told apart by path.
public enum LinkPath: String, Sendable, CaseIterable, Codable {
    /// A backfill from a pool (`stableid import`).
    case `import`
    /// The Migrate-user trigger checked the password against a source pool.
    case lazy
    /// The Migrate-user trigger in the forgot-password flow (no password checked).
    case forgotPassword = "forgot-password"
    /// A post-confirmation trigger (a user who signed up or was invited afresh).
    case postConfirmation = "post-confirmation"
    /// The same federated (Google, Apple, …) account seen in another pool.
    case social
    /// Created in the target pool by the finalize step of a campaign.
    case invite
    /// Through the API or the command line.
    case manual
    /// Created in the target pool without a password by the finalize step of a campaign: they
    /// sign in by one-time code or passkey.
    case passwordless
}
