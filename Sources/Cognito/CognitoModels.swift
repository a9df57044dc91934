// swift-format-ignore-file: AlwaysUseLowerCamelCase

// The Codable models here spell AWS's PascalCase wire names, so they decode without key maps.
public import Foundation
import Support

// Request and response shapes of the Cognito user-pool API (AWS JSON 1.1, PascalCase names).

public struct AttributeType: Codable, Sendable, Equatable {
    public var Name: String
    public var Value: String?
    public init(_ name: String, _ value: String?) {
        Name = name
        Value = value
    }
}

/// A user as ListUsers and AdminCreateUser describe it.
public struct UserType: Codable, Sendable, Equatable {
    public var Username: String
    public var Attributes: [AttributeType]?
    public var Enabled: Bool?
    public var UserStatus: String?
    public var UserCreateDate: Date?
    public var UserLastModifiedDate: Date?

    public init(
        Username: String, Attributes: [AttributeType]? = nil, Enabled: Bool? = nil, UserStatus: String? = nil,
        UserCreateDate: Date? = nil, UserLastModifiedDate: Date? = nil
    ) {
        self.Username = Username
        self.Attributes = Attributes
        self.Enabled = Enabled
        self.UserStatus = UserStatus
        self.UserCreateDate = UserCreateDate
        self.UserLastModifiedDate = UserLastModifiedDate
    }

    public func attribute(_ name: String) -> String? {
        Attributes?.first { $0.Name == name }?.Value
    }

    /// `UserStatus` as a closed set, so callers switch over it instead of comparing strings.
    public var status: CognitoUserStatus { CognitoUserStatus(cognito: UserStatus) }

    enum CodingKeys: String, CodingKey {
        case Username, Attributes, Enabled, UserStatus, UserCreateDate, UserLastModifiedDate
    }

    // Written by hand for the dates: the API sends epoch seconds, but the same shape saved by the
    // AWS CLI v2 or an SDK carries RFC 3339 strings, and `Date`'s default coding reads neither.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        Username = try container.decode(String.self, forKey: .Username)
        Attributes = try container.decodeIfPresent([AttributeType].self, forKey: .Attributes)
        Enabled = try container.decodeIfPresent(Bool.self, forKey: .Enabled)
        UserStatus = try container.decodeIfPresent(String.self, forKey: .UserStatus)
        UserCreateDate = try Self.date(in: container, forKey: .UserCreateDate)
        UserLastModifiedDate = try Self.date(in: container, forKey: .UserLastModifiedDate)
    }

    /// Epoch seconds, as Cognito itself sends them.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(Username, forKey: .Username)
        try container.encodeIfPresent(Attributes, forKey: .Attributes)
        try container.encodeIfPresent(Enabled, forKey: .Enabled)
        try container.encodeIfPresent(UserStatus, forKey: .UserStatus)
        try container.encodeIfPresent(UserCreateDate?.timeIntervalSince1970, forKey: .UserCreateDate)
        try container.encodeIfPresent(UserLastModifiedDate?.timeIntervalSince1970, forKey: .UserLastModifiedDate)
    }

    static func date(in container: KeyedDecodingContainer<CodingKeys>, forKey key: CodingKeys) throws -> Date? {
        try cognitoDate(in: container, forKey: key)
    }
}

/// A date of a Cognito user: epoch seconds, as the API sends them, or an RFC 3339 string, as the
/// AWS CLI v2 and SDK dumps save them; absent or null is nil.
func cognitoDate<Key: CodingKey>(in container: KeyedDecodingContainer<Key>, forKey key: Key) throws -> Date? {
    guard container.contains(key), try !container.decodeNil(forKey: key) else { return nil }
    if let seconds = try? container.decode(Double.self, forKey: key) { return Date(timeIntervalSince1970: seconds) }
    let text = try container.decode(String.self, forKey: key)
    guard let date = RFC3339.parse(text) else {
        throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "'\(text)' is not an RFC 3339 date")
    }
    return date
}

/// Cognito's account states. A value this version does not know becomes `.unknown` rather than
/// failing an import: AWS adds states, and a backfill must not stop on one.
public enum CognitoUserStatus: String, Sendable, CaseIterable, Hashable {
    case unconfirmed = "UNCONFIRMED"
    case confirmed = "CONFIRMED"
    case forceChangePassword = "FORCE_CHANGE_PASSWORD"
    case resetRequired = "RESET_REQUIRED"
    case externalProvider = "EXTERNAL_PROVIDER"
    case archived = "ARCHIVED"
    case compromised = "COMPROMISED"
    case unknown = "UNKNOWN"

    public init(cognito text: String?) {
        self = text.flatMap { Self(rawValue: $0.uppercased()) } ?? .unknown
    }
}

public struct ListUsersPage: Decodable, Sendable {
    public var Users: [UserType]
    public var PaginationToken: String?

    /// The token that fetches the page after this one; nil when this is the last page (Cognito
    /// may send an empty token for that).
    public var nextPageToken: String? {
        PaginationToken.flatMap { $0.isEmpty ? nil : $0 }
    }
}

public struct AdminGetUserResponse: Decodable, Sendable {
    public var Username: String
    public var UserAttributes: [AttributeType]?
    public var Enabled: Bool?
    public var UserStatus: String?
    /// The second factors the user has turned on (`SMS_MFA`, `SOFTWARE_TOKEN_MFA`, `EMAIL_OTP`).
    public var UserMFASettingList: [String]?
    /// When the user was last changed (attributes, status; not a sign-in). The clean-up of a
    /// source pool leaves alone a user changed after its migration.
    public var UserLastModifiedDate: Date?

    enum CodingKeys: String, CodingKey {
        case Username, UserAttributes, Enabled, UserStatus, UserMFASettingList, UserLastModifiedDate
    }

    // Written by hand for the date, which the API sends as epoch seconds (``UserType``'s rule). A
    // date that cannot be read is unknown rather than a failed call: the Migrate-user trigger
    // reads users this way, and does not need it.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        Username = try container.decode(String.self, forKey: .Username)
        UserAttributes = try container.decodeIfPresent([AttributeType].self, forKey: .UserAttributes)
        Enabled = try container.decodeIfPresent(Bool.self, forKey: .Enabled)
        UserStatus = try container.decodeIfPresent(String.self, forKey: .UserStatus)
        UserMFASettingList = try container.decodeIfPresent([String].self, forKey: .UserMFASettingList)
        UserLastModifiedDate = try? cognitoDate(in: container, forKey: .UserLastModifiedDate)
    }

    /// Whether the user signs in with a second factor (as far as the user's own settings say; a
    /// pool whose MFA is required asks everyone, which the password check reveals instead).
    public var hasMFA: Bool { !(UserMFASettingList ?? []).isEmpty }

    public func attribute(_ name: String) -> String? {
        UserAttributes?.first { $0.Name == name }?.Value
    }
}

public struct AuthenticationResult: Decodable, Sendable {
    public var IdToken: String?
    public var AccessToken: String?
    public var RefreshToken: String?
    public var ExpiresIn: Int?
}

public struct AdminInitiateAuthResponse: Decodable, Sendable {
    public var AuthenticationResult: AuthenticationResult?
    public var ChallengeName: String?
    public var Session: String?
}

public struct UserPoolDescription: Decodable, Sendable {
    public struct SchemaAttribute: Decodable, Sendable {
        public var Name: String?
        public var AttributeDataType: String?
        public var Mutable: Bool?
        /// The length limits of a `String` attribute, when the pool sets them.
        public var StringAttributeConstraints: StringConstraints?
    }
    /// `MinLength` and `MaxLength`, which AWS sends as strings of digits (and moto echoes as
    /// given). Read leniently: a limit that is neither a number nor digits is unknown (nil) rather
    /// than a DescribeUserPool that cannot be read at all.
    public struct StringConstraints: Decodable, Sendable {
        public var MinLength: Int?
        public var MaxLength: Int?

        enum CodingKeys: String, CodingKey { case MinLength, MaxLength }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            MinLength = Self.length(in: container, forKey: .MinLength)
            MaxLength = Self.length(in: container, forKey: .MaxLength)
        }

        static func length(in container: KeyedDecodingContainer<CodingKeys>, forKey key: CodingKeys) -> Int? {
            if let text = try? container.decodeIfPresent(String.self, forKey: key) { return Int(text) }
            return try? container.decodeIfPresent(Int.self, forKey: key)
        }
    }
    /// Who may create users: `AllowAdminCreateUserOnly` false (Cognito's default) lets anyone
    /// sign up through the pool's public API.
    public struct AdminCreateUserConfig: Decodable, Sendable {
        public var AllowAdminCreateUserOnly: Bool?
    }
    public var Id: String
    public var Name: String?
    public var SchemaAttributes: [SchemaAttribute]?
    public var EstimatedNumberOfUsers: Int?
    public var AdminCreateUserConfig: AdminCreateUserConfig?
    public var MfaConfiguration: String?
    /// `["email"]` (or phone_number): users sign in by that attribute, which is then unique in
    /// the pool, and their username is a UUID.
    public var UsernameAttributes: [String]?
    public var Policies: Policies?

    /// The pool's password and sign-in policies.
    public struct Policies: Decodable, Sendable {
        /// How users may start signing in (choice-based sign-in, the Essentials tier and up).
        public struct SignInPolicy: Decodable, Sendable {
            /// `PASSWORD`, `EMAIL_OTP`, `SMS_OTP`, `WEB_AUTHN`.
            public var AllowedFirstAuthFactors: [String]?
        }
        public struct PasswordPolicy: Decodable, Sendable {
            /// How long a temporary password (an invitation's) can be used; 7 days by default.
            public var TemporaryPasswordValidityDays: Int?
        }
        public var SignInPolicy: SignInPolicy?
        public var PasswordPolicy: PasswordPolicy?
    }
}

/// One app client of a pool, as `DescribeUserPoolClient` answers it.
public struct UserPoolClientDescription: Decodable, Sendable {
    public var ClientId: String
    public var ClientName: String?
    /// The attributes this client may write. Unset means every attribute the pool lets clients
    /// write, custom attributes included (Cognito's rule, and moto's).
    public var WriteAttributes: [String]?

    /// Whether a user signed in through this client could write `attribute` themselves.
    public func canWrite(_ attribute: String) -> Bool {
        Self.canWrite(attribute, writeAttributes: WriteAttributes)
    }

    /// The one reading of `WriteAttributes` for whoever asks: unset, the client writes every
    /// attribute (custom ones included); set, exactly those it names.
    public static func canWrite(_ attribute: String, writeAttributes: [String]?) -> Bool {
        writeAttributes.map { $0.contains(attribute) } ?? true
    }
}

struct DescribeUserPoolClientResponse: Decodable, Sendable {
    var UserPoolClient: UserPoolClientDescription
}

struct ListUserPoolClientsResponse: Decodable, Sendable {
    struct Client: Decodable, Sendable { var ClientId: String }
    var UserPoolClients: [Client]?
    var NextToken: String?
}

struct DescribeUserPoolResponse: Decodable, Sendable {
    var UserPool: UserPoolDescription
}

struct CreateUserPoolResponse: Decodable, Sendable {
    var UserPool: UserPoolDescription
}

struct CreateUserPoolClientResponse: Decodable, Sendable {
    struct Client: Decodable, Sendable { var ClientId: String }
    var UserPoolClient: Client
}

struct AdminCreateUserResponse: Decodable, Sendable {
    var User: UserType
}

struct GetCSVHeaderResponse: Decodable, Sendable {
    var CSVHeader: [String]
}

/// Empty JSON object answers (`{}`).
struct Empty: Codable, Sendable {}

/// A custom attribute to declare when creating a pool (`custom:<name>`).
public struct SchemaAttribute: Encodable, Sendable {
    public var Name: String
    public var AttributeDataType: String
    public var Mutable: Bool
    public init(name: String, type: String = "String", mutable: Bool = true) {
        Name = name
        AttributeDataType = type
        Mutable = mutable
    }
}
