public import Foundation

/// An identity to link, validated before any SQL runs.
public struct NewIdentity: Sendable, Equatable {
    public var pool: PoolID
    public var sub: String
    public var username: String
    public var email: String?
    public var emailVerified: Bool
    public var provider: String
    /// How the link is being made (recorded on the identity and in its event).
    public var via: LinkPath
    /// The campaign the link belongs to, if any.
    public var campaignID: UUID?
    /// The federated provider's own user id, from the `identities` attribute.
    public var federatedUserID: String?

    public static let defaultProvider = "Cognito"

    public init(
        pool: PoolID,
        sub: String,
        username: String,
        email: String? = nil,
        emailVerified: Bool = false,
        provider: String? = nil,
        via: LinkPath = .manual,
        campaignID: UUID? = nil,
        federatedUserID: String? = nil
    ) throws(IdentityMapError) {
        let sub = try CognitoSub.validated(sub)
        guard Self.isPrintable(username, maxLength: 255) else {
            throw .invalidInput(field: "username", reason: "must be 1 to 255 printable characters")
        }
        if let email, EmailAddress.normalize(email) == nil {
            throw .invalidInput(field: "email", reason: "is not an email address")
        }
        let provider = provider ?? Self.defaultProvider
        guard !provider.isEmpty, provider.count <= 64,
            provider.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) })
        else {
            throw .invalidInput(field: "provider", reason: "must be 1 to 64 letters, digits, '_', '-' or '.'")
        }
        self.pool = pool
        self.sub = sub
        self.username = username
        self.email = email
        self.emailVerified = email == nil ? false : emailVerified
        self.provider = provider
        self.via = via
        self.campaignID = campaignID
        if let federatedUserID, !Self.isPrintable(federatedUserID, maxLength: 255) {
            throw .invalidInput(field: "federated_user_id", reason: "must be 1 to 255 printable characters")
        }
        self.federatedUserID = federatedUserID
    }

    /// The form emails are matched by (see ``EmailAddress/normalize(_:)``).
    public var normalizedEmail: String? { email.flatMap(EmailAddress.normalize) }

    static func isPrintable(_ value: String, maxLength: Int) -> Bool {
        !value.isEmpty && value.count <= maxLength
            && value.unicodeScalars.allSatisfy { !$0.properties.generalCategory.isControlOrFormat }
    }
}

extension Unicode.GeneralCategory {
    var isControlOrFormat: Bool {
        switch self {
        case .control, .format, .lineSeparator, .paragraphSeparator, .surrogate, .unassigned: return true
        default: return false
        }
    }
}
