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
    /// The source user's attributes have left the campaign's subset since the reconciliation
    /// (``CampaignSubset``): not the campaign's to move any more.
    case outsideSubset = "outside_subset"
    /// The source identity is no longer this person's active identity in the map.
    case sourceChanged = "source_changed"
    /// Invite: neither an email nor a phone number to send the invitation to.
    case noContact = "no_contact"
    /// No verified email or phone number. Invite: the temporary password would go to an address
    /// nobody proved is the user's (a mistyped one hands the account to a stranger). Passwordless
    /// and CSV: no way to sign in or recover.
    case noVerifiedContact = "no_verified_contact"
    /// Passwordless: the user's verified contacts fit none of the target's passwordless first
    /// factors (a verified phone only, and no `SMS_OTP`, say).
    case noPasswordlessFactor = "no_passwordless_factor"
    /// The target signs in by email (or phone) and the user has no verified one.
    case noSignInAttribute = "no_sign_in_attribute"
    /// Another finalize run of the campaign is working on the person.
    case inProgress = "in_progress"
    /// Resend: the user signed in already (no temporary password to renew).
    case signedIn = "signed_in"
    /// Resend: the invited user is no longer in the target pool.
    case targetGone = "target_gone"
    /// Resend: the username is now another user's (another sub, or a stable-ID attribute that no
    /// longer names the person), or the person's row was erased.
    case targetChanged = "target_changed"

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

    /// The first factors (`Policies.SignInPolicy.AllowedFirstAuthFactors`) that let a user without
    /// a password in.
    public static let passwordlessFactors: Set<String> = ["EMAIL_OTP", "SMS_OTP", "WEB_AUTHN"]

    /// The first factors a passwordless run works with, from DescribeUserPool's
    /// `Policies.SignInPolicy.AllowedFirstAuthFactors`; refuses a pool where a user without a
    /// password could never sign in. A pool that does not say (nil: no sign-in policy in the
    /// answer, or the pool unreadable) is refused unless the operator vouched for it (`assumed`),
    /// and then nil: any verified contact will do. A pool that says is taken at its word.
    public static func passwordlessSignIn(allowedFirstFactors: [String]?, assumed: Bool) throws -> Set<String>? {
        guard let allowedFirstFactors else {
            guard assumed else {
                throw MigrationError.invalidCampaign(
                    "cannot tell whether the target pool lets users sign in without a password (DescribeUserPool gives no "
                        + "Policies.SignInPolicy.AllowedFirstAuthFactors): check that its choice-based sign-in allows EMAIL_OTP, "
                        + "SMS_OTP or WEB_AUTHN, then run again with --assume-passwordless-pool")
            }
            return nil
        }
        let factors = Set(allowedFirstFactors)
        guard !factors.isDisjoint(with: passwordlessFactors) else {
            let named = factors.isEmpty ? "no first factor" : factors.sorted().joined(separator: ", ")
            throw MigrationError.invalidCampaign(
                "the target pool allows \(named) to start a sign-in: users created without a password could never sign in; "
                    + "allow EMAIL_OTP, SMS_OTP or WEB_AUTHN (choice-based sign-in) first, or use --mode invite")
        }
        return factors
    }

    /// The account for a source user, or why there is none.
    ///
    /// Only a verified email or phone number is ever trusted to reach the person: the invitation
    /// (a temporary password for an account already linked to their stable ID) goes to a verified
    /// one, and a target that signs in by email (or phone) takes only a verified one as username.
    ///
    /// - `targetUsernameAttributes`: the target's `UsernameAttributes` (`email`, `phone_number`):
    ///   such a pool takes the email (or phone number) as the username; any other keeps the
    ///   source username, so users sign in as they did.
    /// - `allowedFirstFactors` (passwordless): the target's allowed first factors; nil when not
    ///   known (the operator vouched for the pool), then any verified contact will do.
    public static func plan(
        mode: FinalizeMode, person: UUID, sourceUsername: String, sourceAttributes: [String: String], stableIDAttribute: String?,
        targetUsernameAttributes: [String], allowedFirstFactors: Set<String>? = nil
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
        let verifiedEmail = attributes["email_verified"] == "true" ? email : nil
        let verifiedPhone = attributes["phone_number_verified"] == "true" ? phone : nil
        if let stableIDAttribute { attributes[stableIDAttribute] = person.uuidString.lowercased() }

        let username: String
        if targetUsernameAttributes.isEmpty {
            username = sourceUsername
        } else if targetUsernameAttributes.contains("email"), let verifiedEmail {
            username = verifiedEmail
        } else if targetUsernameAttributes.contains("phone_number"), let verifiedPhone {
            username = verifiedPhone
        } else {
            return .failure(.noSignInAttribute)
        }

        switch mode {
        case .invite:
            guard email != nil || phone != nil else { return .failure(.noContact) }
            guard let medium = deliveryMedium(attributes) else { return .failure(.noVerifiedContact) }
            return .success(FinalizeAccount(username: username, attributes: attributes, deliveryMediums: [medium]))
        case .passwordless:
            guard verifiedEmail != nil || verifiedPhone != nil else { return .failure(.noVerifiedContact) }
            guard
                passwordlessReach(
                    verifiedEmail: verifiedEmail != nil, verifiedPhone: verifiedPhone != nil, allowedFirstFactors: allowedFirstFactors)
            else { return .failure(.noPasswordlessFactor) }
            return .success(FinalizeAccount(username: username, attributes: attributes, messageAction: "SUPPRESS"))
        case .csv:
            guard verifiedEmail != nil || verifiedPhone != nil else { return .failure(.noVerifiedContact) }
            return .success(FinalizeAccount(username: username, attributes: attributes))
        }
    }

    /// Whether a user with these verified contacts can get in without a password: a one-time code
    /// to a verified email (`EMAIL_OTP`) or phone (`SMS_OTP`). A passkey (`WEB_AUTHN`) is
    /// registered only after a first sign-in, which for a user made without a password the
    /// application must give through a verified email or phone: either will do (and the run
    /// warns). Unknown factors (nil, the operator vouched): any verified contact.
    static func passwordlessReach(verifiedEmail: Bool, verifiedPhone: Bool, allowedFirstFactors: Set<String>?) -> Bool {
        guard let factors = allowedFirstFactors else { return verifiedEmail || verifiedPhone }
        return (verifiedEmail && factors.contains("EMAIL_OTP")) || (verifiedPhone && factors.contains("SMS_OTP"))
            || ((verifiedEmail || verifiedPhone) && factors.contains("WEB_AUTHN"))
    }

    /// The medium for an invitation (or its resend) to a target user with these attributes: a
    /// verified email, else a verified phone number; nil when neither is verified.
    public static func deliveryMedium(_ attributes: [String: String]) -> String? {
        if attributes["email"] != nil, attributes["email_verified"]?.lowercased() == "true" { return "EMAIL" }
        if attributes["phone_number"] != nil, attributes["phone_number_verified"]?.lowercased() == "true" { return "SMS" }
        return nil
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
