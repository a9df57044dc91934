// swift-format-ignore-file: AlwaysUseLowerCamelCase

// The Codable models here spell AWS's PascalCase wire names, so they decode without key maps.
import Foundation

extension CognitoClient {
    /// Every page of `ListUsers`, fetched lazily as the sequence is iterated, paced at the
    /// ListUsers quota. `limit` is capped at Cognito's maximum of 60.
    ///
    /// `startingAt` is a `PaginationToken` an earlier read of the same query returned: the pages
    /// then start there instead of at the first (a read that failed midway continues; see
    /// ``ListUsersPage/nextPageToken``). Cognito may refuse a token it no longer knows,
    /// with a 400 on the first page (``CognitoError/rejectsPaginationToken``).
    public func listUsers(
        poolID: String,
        filter: String? = nil,
        attributesToGet: [String]? = nil,
        limit: Int = 60,
        startingAt paginationToken: String? = nil
    ) -> ListUsersPages {
        ListUsersPages(
            client: self, poolID: poolID, filter: filter, attributesToGet: attributesToGet, limit: min(max(limit, 1), 60),
            startToken: paginationToken.flatMap { $0.isEmpty ? nil : $0 }
        )
    }

    public func adminGetUser(
        poolID: String, username: String, deadline: ContinuousClock.Instant? = nil
    ) async throws -> AdminGetUserResponse {
        struct Input: Encodable {
            var UserPoolId: String
            var Username: String
        }
        return try await call("AdminGetUser", Input(UserPoolId: poolID, Username: username), category: .userRead, deadline: deadline)
    }

    /// `ADMIN_USER_PASSWORD_AUTH`. The password goes only into the signed request body. Never
    /// retried once Cognito may have seen it: each call is one password attempt at the source,
    /// which counts towards the source user's lockout.
    /// `secretHash` is required by Cognito when the app client has a secret (``CognitoSecretHash``).
    public func adminInitiateAuth(
        poolID: String, clientID: String, username: String, password: String, secretHash: String? = nil,
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> AdminInitiateAuthResponse {
        struct Input: Encodable {
            var UserPoolId: String
            var ClientId: String
            var AuthFlow = "ADMIN_USER_PASSWORD_AUTH"
            var AuthParameters: [String: String]
        }
        return try await call(
            "AdminInitiateAuth",
            Input(
                UserPoolId: poolID, ClientId: clientID,
                AuthParameters: ["USERNAME": username, "PASSWORD": password].merging(secretHash.map { ["SECRET_HASH": $0] } ?? [:]) { $1 }
            ),
            category: .userAuthentication, deadline: deadline, retry: .onlyUnprocessed
        )
    }

    /// `messageAction` `SUPPRESS` (the default: tests and imports send nothing), `RESEND` (a new
    /// temporary password for an invited user who never signed in), or nil: Cognito sends the
    /// invitation with the temporary password through `desiredDeliveryMediums` (`EMAIL`, `SMS`;
    /// Cognito's default is SMS alone when unset).
    public func adminCreateUser(
        poolID: String,
        username: String,
        attributes: [AttributeType] = [],
        temporaryPassword: String? = nil,
        messageAction: String? = "SUPPRESS",
        desiredDeliveryMediums: [String]? = nil,
        deadline: ContinuousClock.Instant? = nil
    ) async throws -> UserType {
        struct Input: Encodable {
            var UserPoolId: String
            var Username: String
            var UserAttributes: [AttributeType]
            var TemporaryPassword: String?
            var MessageAction: String?
            var DesiredDeliveryMediums: [String]?
        }
        let response: AdminCreateUserResponse = try await call(
            "AdminCreateUser",
            Input(
                UserPoolId: poolID, Username: username, UserAttributes: attributes, TemporaryPassword: temporaryPassword,
                MessageAction: messageAction, DesiredDeliveryMediums: desiredDeliveryMediums),
            category: .userCreation, deadline: deadline
        )
        return response.User
    }

    public func adminUpdateUserAttributes(poolID: String, username: String, attributes: [AttributeType]) async throws {
        struct Input: Encodable {
            var UserPoolId: String
            var Username: String
            var UserAttributes: [AttributeType]
        }
        let _: Empty = try await call(
            "AdminUpdateUserAttributes", Input(UserPoolId: poolID, Username: username, UserAttributes: attributes), category: .userUpdate)
    }

    /// Removes attributes from a user (`UserAttributeNames`: `custom:…` names as the pool spells
    /// them). The same `UserResourceUpdate` quota as AdminUpdateUserAttributes, and retried like
    /// it: removing twice leaves the user as removing once. moto answers
    /// `InvalidParameterException` for a name the user holds no value for, so callers remove only
    /// what a user holds.
    public func adminDeleteUserAttributes(poolID: String, username: String, attributeNames: [String]) async throws {
        struct Input: Encodable {
            var UserPoolId: String
            var Username: String
            var UserAttributeNames: [String]
        }
        let _: Empty = try await call(
            "AdminDeleteUserAttributes", Input(UserPoolId: poolID, Username: username, UserAttributeNames: attributeNames),
            category: .userUpdate)
    }

    public func adminSetUserPassword(poolID: String, username: String, password: String, permanent: Bool) async throws {
        struct Input: Encodable {
            var UserPoolId: String
            var Username: String
            var Password: String
            var Permanent: Bool
        }
        let _: Empty = try await call(
            "AdminSetUserPassword", Input(UserPoolId: poolID, Username: username, Password: password, Permanent: permanent),
            category: .userUpdate
        )
    }

    public func adminDisableUser(poolID: String, username: String) async throws {
        try await userAction("AdminDisableUser", poolID: poolID, username: username)
    }

    public func adminEnableUser(poolID: String, username: String) async throws {
        try await userAction("AdminEnableUser", poolID: poolID, username: username)
    }

    public func adminDeleteUser(poolID: String, username: String) async throws {
        try await userAction("AdminDeleteUser", poolID: poolID, username: username)
    }

    private func userAction(_ operation: String, poolID: String, username: String) async throws {
        struct Input: Encodable {
            var UserPoolId: String
            var Username: String
        }
        let _: Empty = try await call(operation, Input(UserPoolId: poolID, Username: username), category: .userUpdate)
    }

    public func describeUserPool(poolID: String, deadline: ContinuousClock.Instant? = nil) async throws -> UserPoolDescription {
        struct Input: Encodable { var UserPoolId: String }
        let response: DescribeUserPoolResponse = try await call(
            "DescribeUserPool", Input(UserPoolId: poolID), category: .poolRead, deadline: deadline)
        return response.UserPool
    }

    /// Every app client id of the pool (all pages).
    public func listUserPoolClientIDs(poolID: String, deadline: ContinuousClock.Instant? = nil) async throws -> [String] {
        struct Input: Encodable {
            var UserPoolId: String
            var MaxResults = 60
            var NextToken: String?
        }
        var ids: [String] = []
        var next: String?
        repeat {
            let page: ListUserPoolClientsResponse = try await call(
                "ListUserPoolClients", Input(UserPoolId: poolID, NextToken: next), category: .poolRead, deadline: deadline
            )
            ids += (page.UserPoolClients ?? []).map(\.ClientId)
            next = page.NextToken.flatMap { $0.isEmpty ? nil : $0 }
        } while next != nil
        return ids
    }

    public func describeUserPoolClient(
        poolID: String, clientID: String, deadline: ContinuousClock.Instant? = nil
    ) async throws -> UserPoolClientDescription {
        struct Input: Encodable {
            var UserPoolId: String
            var ClientId: String
        }
        let response: DescribeUserPoolClientResponse = try await call(
            "DescribeUserPoolClient", Input(UserPoolId: poolID, ClientId: clientID), category: .poolRead, deadline: deadline
        )
        return response.UserPoolClient
    }

    /// Every app client of a pool as `DescribeUserPoolClient` answers it: what each may write
    /// decides whether users can set an attribute themselves (target facts, `stamp`, subsets).
    public func describeUserPoolClients(
        poolID: String, deadline: ContinuousClock.Instant? = nil
    ) async throws -> [UserPoolClientDescription] {
        var clients: [UserPoolClientDescription] = []
        for clientID in try await listUserPoolClientIDs(poolID: poolID, deadline: deadline) {
            clients.append(try await describeUserPoolClient(poolID: poolID, clientID: clientID, deadline: deadline))
        }
        return clients
    }

    /// Turns on SMS MFA (enabled and preferred) for a user (tests, demos).
    public func adminSetSMSMFAPreference(poolID: String, username: String) async throws {
        struct Settings: Encodable {
            var Enabled = true
            var PreferredMfa = true
        }
        struct Input: Encodable {
            var UserPoolId: String
            var Username: String
            var SMSMfaSettings = Settings()
        }
        let _: Empty = try await call(
            "AdminSetUserMFAPreference", Input(UserPoolId: poolID, Username: username), category: .userUpdate)
    }

    /// The column names of a user-import CSV for the pool. (moto answers 500 to this operation.)
    /// Only throttling is retried: a caller can derive the header from `DescribeUserPool`
    /// (`CSVHeader`), which beats waiting out a server error.
    public func getCSVHeader(poolID: String, deadline: ContinuousClock.Instant? = nil) async throws -> [String] {
        struct Input: Encodable { var UserPoolId: String }
        let response: GetCSVHeaderResponse = try await call(
            "GetCSVHeader", Input(UserPoolId: poolID), category: .poolRead, deadline: deadline, retry: .onlyUnprocessed)
        return response.CSVHeader
    }

    /// Creates a pool (tests, demos). Returns its id.
    /// `usernameAttributes: ["email"]` makes a pool that signs in by email (its usernames are UUIDs).
    ///
    /// `allowedFirstAuthFactors` sets `Policies.SignInPolicy` (choice-based sign-in: `PASSWORD`,
    /// `EMAIL_OTP`, `SMS_OTP`, `WEB_AUTHN`), `temporaryPasswordValidityDays` the password policy's;
    /// nil leaves Cognito's defaults.
    public func createUserPool(
        name: String, customAttributes: [SchemaAttribute] = [], usernameAttributes: [String]? = nil, adminCreateUserOnly: Bool = false,
        allowedFirstAuthFactors: [String]? = nil, temporaryPasswordValidityDays: Int? = nil
    ) async throws
        -> String
    {
        struct AdminCreateUserConfig: Encodable { var AllowAdminCreateUserOnly: Bool }
        struct SignInPolicy: Encodable { var AllowedFirstAuthFactors: [String] }
        struct PasswordPolicy: Encodable { var TemporaryPasswordValidityDays: Int }
        struct Policies: Encodable {
            var SignInPolicy: SignInPolicy?
            var PasswordPolicy: PasswordPolicy?
        }
        struct Input: Encodable {
            var PoolName: String
            var Schema: [SchemaAttribute]?
            var UsernameAttributes: [String]?
            var AdminCreateUserConfig: AdminCreateUserConfig
            var Policies: Policies?
        }
        var policies: Policies?
        if allowedFirstAuthFactors != nil || temporaryPasswordValidityDays != nil {
            policies = Policies(
                SignInPolicy: allowedFirstAuthFactors.map { SignInPolicy(AllowedFirstAuthFactors: $0) },
                PasswordPolicy: temporaryPasswordValidityDays.map { PasswordPolicy(TemporaryPasswordValidityDays: $0) })
        }
        let response: CreateUserPoolResponse = try await call(
            "CreateUserPool",
            Input(
                PoolName: name, Schema: customAttributes.isEmpty ? nil : customAttributes, UsernameAttributes: usernameAttributes,
                AdminCreateUserConfig: AdminCreateUserConfig(AllowAdminCreateUserOnly: adminCreateUserOnly), Policies: policies),
            category: .poolUpdate
        )
        return response.UserPool.Id
    }

    /// Creates an app client allowing `ADMIN_USER_PASSWORD_AUTH`. Returns its id.
    /// `writeAttributes` nil leaves Cognito's default: the client may write every attribute.
    public func createUserPoolClient(poolID: String, name: String, writeAttributes: [String]? = nil) async throws -> String {
        struct Input: Encodable {
            var UserPoolId: String
            var ClientName: String
            var ExplicitAuthFlows: [String]
            var WriteAttributes: [String]?
        }
        let response: CreateUserPoolClientResponse = try await call(
            "CreateUserPoolClient",
            Input(
                UserPoolId: poolID, ClientName: name, ExplicitAuthFlows: ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
                WriteAttributes: writeAttributes),
            category: .poolUpdate
        )
        return response.UserPoolClient.ClientId
    }
}

/// The pages of one ListUsers query, as an `AsyncSequence`.
public struct ListUsersPages: AsyncSequence, Sendable {
    public typealias Element = ListUsersPage
    let client: CognitoClient
    let poolID: String
    let filter: String?
    let attributesToGet: [String]?
    let limit: Int
    /// The token of the first page to fetch; nil for the pool's first page.
    let startToken: String?

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pages: ListUsersPages
        /// The `PaginationToken` the next call sends: after a page was returned, the token of the
        /// page that follows it, nil once the last page was returned. Saved with what a page
        /// brought, it lets a later read start where this one stopped.
        public private(set) var token: String?
        var finished = false

        init(pages: ListUsersPages) {
            self.pages = pages
            self.token = pages.startToken
        }

        public mutating func next() async throws -> ListUsersPage? {
            guard !finished else { return nil }
            struct Input: Encodable {
                var UserPoolId: String
                var Filter: String?
                var AttributesToGet: [String]?
                var Limit: Int
                var PaginationToken: String?
            }
            let page: ListUsersPage = try await pages.client.call(
                "ListUsers",
                Input(
                    UserPoolId: pages.poolID, Filter: pages.filter, AttributesToGet: pages.attributesToGet, Limit: pages.limit,
                    PaginationToken: token),
                category: .userList
            )
            token = page.nextPageToken
            finished = token == nil
            return page
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self) }
}
