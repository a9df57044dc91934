public import Cognito
public import Foundation

/// A Cognito user reduced to what StableID keeps and compares, the same whether it came from
/// ListUsers, AdminGetUser or a file, so that import, reconciliation and the triggers agree on
/// what a user is.
public struct CognitoUserRecord: Sendable, Equatable {
    public var sub: String
    public var username: String
    public var email: String?
    public var emailVerified: Bool
    public var enabled: Bool
    public var userStatus: CognitoUserStatus
    /// `Cognito`, or the federated provider's name spelled the way the identity map accepts it.
    public var provider: String
    /// The person's ID at `provider`, from the same `identities` entry; nil for Cognito users.
    public var federatedUserID: String?
    /// The `custom:*` attributes, keyed by their full name (`custom:stable_id`), which is how
    /// pool configuration and trigger settings name them.
    public var customAttributes: [String: String]
    public var created: Date?
    public var lastModified: Date?
    /// The standard attributes the fields above do not hold (`locale`, `zoneinfo`, `name`,
    /// `phone_number`, …), keyed by name: what a campaign over a subset of users may name
    /// (``attribute(_:)``). Everything but `sub`, `email`, `email_verified` and `identities`.
    public var otherAttributes: [String: String]

    /// The provider of users who signed up with the pool itself.
    public static let cognitoProvider = "Cognito"

    /// The standard attributes kept in fields of their own rather than in ``otherAttributes``.
    static let fieldAttributes: Set<String> = ["sub", "email", "email_verified", "identities"]

    public init(
        sub: String, username: String, email: String? = nil, emailVerified: Bool = false, enabled: Bool = true,
        userStatus: CognitoUserStatus = .unknown, provider: String = CognitoUserRecord.cognitoProvider, federatedUserID: String? = nil,
        customAttributes: [String: String] = [:], created: Date? = nil, lastModified: Date? = nil,
        otherAttributes: [String: String] = [:]
    ) {
        self.sub = sub
        self.username = username
        self.email = email
        self.emailVerified = emailVerified
        self.enabled = enabled
        self.userStatus = userStatus
        self.provider = provider
        self.federatedUserID = federatedUserID
        self.customAttributes = customAttributes
        self.created = created
        self.lastModified = lastModified
        self.otherAttributes = otherAttributes
    }

    /// The attribute `name` as Cognito spells its value: a custom one (`custom:country`), `email`,
    /// or another standard one (`locale`). `sub`, `email_verified` and `identities` are read
    /// through their fields; nil here.
    public func attribute(_ name: String) -> String? {
        if name.hasPrefix("custom:") { return customAttributes[name] }
        if name == "email" { return email }
        return otherAttributes[name]
    }

    /// A user from ListUsers or a file row. A missing `sub` becomes "", which a backfill counts
    /// as invalid rather than dropping silently.
    public init(_ user: UserType) {
        self.init(
            username: user.Username, attributes: user.Attributes ?? [], enabled: user.Enabled, status: user.UserStatus,
            created: user.UserCreateDate, lastModified: user.UserLastModifiedDate
        )
    }

    /// A user from AdminGetUser (the migration triggers read the source pool this way).
    public init(_ user: AdminGetUserResponse) {
        self.init(
            username: user.Username, attributes: user.UserAttributes ?? [], enabled: user.Enabled, status: user.UserStatus,
            created: nil, lastModified: nil
        )
    }

    init(username: String, attributes: [AttributeType], enabled: Bool?, status: String?, created: Date?, lastModified: Date?) {
        var standard: [String: String] = [:]
        var custom: [String: String] = [:]
        for attribute in attributes {
            guard let value = attribute.Value else { continue }
            if attribute.Name.hasPrefix("custom:") {
                custom[attribute.Name] = value
            } else {
                standard[attribute.Name] = value
            }
        }
        let federated = standard["identities"].flatMap(FederatedIdentity.parse(attribute:)).flatMap(FederatedIdentity.preferred(in:))
        self.init(
            sub: standard["sub"] ?? "",
            username: username,
            email: standard["email"].flatMap { $0.isEmpty ? nil : $0 },
            emailVerified: standard["email_verified"]?.lowercased() == "true",
            // Cognito omits Enabled only in hand-made files; a user it lists is enabled unless it says otherwise.
            enabled: enabled ?? true,
            userStatus: CognitoUserStatus(cognito: status),
            provider: federated.map { Self.mapProviderName($0.providerName) } ?? Self.cognitoProvider,
            federatedUserID: federated?.userID,
            customAttributes: custom,
            created: created,
            lastModified: lastModified,
            otherAttributes: standard.filter { !Self.fieldAttributes.contains($0.key) }
        )
    }

    /// A provider name as the identity map stores it: ASCII letters, digits, `_`, `-` and `.`, at
    /// most 64 of them. Cognito allows more (spaces, other scripts) in SAML and OIDC provider
    /// names; dropping the rest keeps the name recognisable and the import going. A name with
    /// nothing left is recorded as `Cognito`.
    public static func mapProviderName(_ name: String) -> String {
        let kept = name.utf8.filter { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }.prefix(64)
        return kept.isEmpty ? cognitoProvider : String(decoding: kept, as: UTF8.self)
    }
}
