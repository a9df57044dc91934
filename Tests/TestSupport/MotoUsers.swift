public import Cognito

extension CognitoClient {
    /// Users `user0` … `user<count-1>` in `pool`, each with the verified email
    /// `user<n>@example.com`. At most 8 are created at once (the client's handles).
    public func createNumberedUsers(_ count: Int, in pool: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                if i >= 8 { try await group.next() }
                group.addTask {
                    _ = try await self.createTestUser(
                        poolID: pool, username: "user\(i)",
                        attributes: [AttributeType("email", "user\(i)@example.com"), AttributeType("email_verified", "true")]
                    )
                }
            }
            try await group.waitForAll()
        }
    }

    /// `AdminCreateUser` as the tests use it. On a loaded machine moto may answer after the
    /// client's timeout, having made the user: the retry then finds the username taken. The user
    /// there is the one this call made, so it is read back instead of failing the test. (Only
    /// for tests, whose usernames are fresh per pool; the service's own creates must not guess.)
    public func createTestUser(
        poolID: String, username: String, attributes: [AttributeType] = [], temporaryPassword: String? = nil
    ) async throws -> UserType {
        do {
            return try await adminCreateUser(
                poolID: poolID, username: username, attributes: attributes, temporaryPassword: temporaryPassword)
        } catch let error as CognitoError where error.type == .usernameExists {
            let user = try await adminGetUser(poolID: poolID, username: username)
            return UserType(Username: user.Username, Attributes: user.UserAttributes, Enabled: user.Enabled, UserStatus: user.UserStatus)
        }
    }
}
