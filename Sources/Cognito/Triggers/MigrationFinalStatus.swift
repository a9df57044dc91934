/// The status a migrate-user answer gives the user Cognito is about to create (`finalUserStatus`).
///
/// Only the two a migration needs: a user who signed in with the right password is `CONFIRMED`
/// and keeps that password; a user migrated by the forgot-password flow has no password Cognito
/// knows, so is `RESET_REQUIRED` and sets a new one with the code Cognito sends next.
public enum MigrationFinalStatus: String, Sendable, CaseIterable {
    case confirmed = "CONFIRMED"
    case resetRequired = "RESET_REQUIRED"
}
