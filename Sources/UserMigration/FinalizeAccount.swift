public import Foundation
public import IdentityMap

/// How `stableid campaign finalize` moves the users a campaign still has to move.
public enum FinalizeMode: String, Sendable, CaseIterable {
    /// `AdminCreateUser`; Cognito sends each a temporary password.
    case invite
    /// Cognito user-import CSV files for an import job; imported users reset their password.
    case csv
    /// `AdminCreateUser` with nothing sent and no password: one-time codes or passkeys.
    case passwordless

    /// How the identities this mode creates are linked.
    public var linkPath: LinkPath? {
        switch self {
        case .invite: return .invite
        case .passwordless: return .passwordless
        case .csv: return nil
        }
    }
}

/// Why finalize leaves a user alone this run. The raw values are the summary's reason codes.
public enum FinalizeSkip: String, Error, Sendable, CaseIterable, Comparable {
    /// The person has an active identity in the target now (migrated since the reconciliation).
    case alreadyInTarget = "already_in_target"
    /// Finalize created the person's target user in an earlier run, and it is no longer their
    /// active identity (unlinked or deleted since): never created again on its own.
    case alreadyCreated = "already_created"
    /// The source user is gone from its pool.
    case sourceGone = "source_gone"
    /// The source user is disabled.
    case sourceDisabled = "source_disabled"
    /// The source identity is no longer this person's active identity in the map.
    case sourceChanged = "source_changed"
    /// Invite: neither an email nor a phone number to send the invitation to.
    case noContact = "no_contact"
    /// Passwordless and CSV: no verified email or phone number, so no way to sign in or recover.
    case noVerifiedContact = "no_verified_contact"
    /// The target signs in by email (or phone) and the user has none.
    case noSignInAttribute = "no_sign_in_attribute"
    /// Another finalize run of the campaign is working on the person.
    case inProgress = "in_progress"
    /// Resend: the user signed in already (no temporary password to renew).
    case signedIn = "signed_in"
    /// Resend: the invited user is no longer in the target pool.
    case targetGone = "target_gone"

    public static func < (lhs: FinalizeSkip, rhs: FinalizeSkip) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The target account finalize makes for one source user: a pure decision from the source user's
/// attributes and the target pool's sign-in attributes, the same for every mode.
public struct FinalizeAccount: Sendable, Equatable {
    /// What AdminCreateUser (or the CSV's `cognito:username`) gets.
    public var username: String
    /// Attribute name → value, the stable-ID attribute included.
    public var attributes: [String: String]
    /// `EMAIL` or `SMS` (invite); nil otherwise.
    public var deliveryMediums: [String]?
    /// `SUPPRESS` (passwordless), nil (invite: Cognito sends the invitation). Never set for CSV.
    public var messageAction: String?

    /// The standard attributes copied from the source user. Never `sub` (Cognito mints a new one),
    /// `identities` (Cognito's own), `updated_at` (Cognito keeps it), nor custom attributes other
    /// than the stable-ID attribute (the target may not define them; copying any is a choice this
    /// version does not make).
    public static let copiedAttributes = [
        "name", "given_name", "family_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "email",
        "email_verified", "gender", "birthdate", "zoneinfo", "locale", "phone_number", "phone_number_verified", "address",
    ]

    /// The account for a source user, or why there is none.
    ///
    /// - `targetUsernameAttributes`: the target's `UsernameAttributes` (`email`, `phone_number`):
    ///   such a pool takes the email (or phone number) as the username; any other keeps the
    ///   source username, so users sign in as they did.
    public static func plan(
        mode: FinalizeMode, person: UUID, sourceUsername: String, sourceAttributes: [String: String], stableIDAttribute: String?,
        targetUsernameAttributes: [String]
    ) -> Result<FinalizeAccount, FinalizeSkip> {
        var attributes: [String: String] = [:]
        for name in copiedAttributes {
            if let value = sourceAttributes[name], !value.isEmpty { attributes[name] = value }
        }
        for flag in ["email_verified", "phone_number_verified"] {
            if let value = attributes[flag] { attributes[flag] = value.lowercased() == "true" ? "true" : "false" }
        }
        let email = attributes["email"]
        let phone = attributes["phone_number"]
        // A verified flag without its address means nothing (and Cognito refuses it).
        if email == nil { attributes["email_verified"] = nil }
        if phone == nil { attributes["phone_number_verified"] = nil }
        let verifiedContact = attributes["email_verified"] == "true" || attributes["phone_number_verified"] == "true"
        if let stableIDAttribute { attributes[stableIDAttribute] = person.uuidString.lowercased() }

        let username: String
        if targetUsernameAttributes.isEmpty {
            username = sourceUsername
        } else if targetUsernameAttributes.contains("email"), let email {
            username = email
        } else if targetUsernameAttributes.contains("phone_number"), let phone {
            username = phone
        } else {
            return .failure(.noSignInAttribute)
        }

        switch mode {
        case .invite:
            guard email != nil || phone != nil else { return .failure(.noContact) }
            return .success(
                FinalizeAccount(username: username, attributes: attributes, deliveryMediums: [email != nil ? "EMAIL" : "SMS"]))
        case .passwordless, .csv:
            guard verifiedContact else { return .failure(.noVerifiedContact) }
            return .success(
                FinalizeAccount(username: username, attributes: attributes, messageAction: mode == .passwordless ? "SUPPRESS" : nil))
        }
    }

    /// The account as a user-import CSV row under `header`: `cognito:mfa_enabled` false (MFA is set
    /// up again in the target), verified flags as the source says (false when it says nothing).
    public func csvRow(header: [String]) -> [String] {
        header.map { column in
            switch column {
            case "cognito:username": return username
            case "cognito:mfa_enabled": return "false"
            case "email_verified", "phone_number_verified": return attributes[column] ?? "false"
            default: return attributes[column] ?? ""
            }
        }
    }
}
