import Foundation

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
    public var UserCreateDate: Double?
    public var UserLastModifiedDate: Double?

    public init(Username: String, Attributes: [AttributeType]? = nil, Enabled: Bool? = nil, UserStatus: String? = nil) {
        self.Username = Username
        self.Attributes = Attributes
        self.Enabled = Enabled
        self.UserStatus = UserStatus
    }

    public func attribute(_ name: String) -> String? {
        Attributes?.first { $0.Name == name }?.Value
    }
}

public struct ListUsersPage: Decodable, Sendable {
    public var Users: [UserType]
    public var PaginationToken: String?
}

public struct AdminGetUserResponse: Decodable, Sendable {
    public var Username: String
    public var UserAttributes: [AttributeType]?
    public var Enabled: Bool?
    public var UserStatus: String?

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
    }
    public var Id: String
    public var Name: String?
    public var SchemaAttributes: [SchemaAttribute]?
    public var EstimatedNumberOfUsers: Int?
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
