public import Cognito

extension CognitoClient {
    /// Users `user0` … `user<count-1>` in `pool`, each with the verified email
    /// `user<n>@example.com`. At most 8 are created at once (the client's handles): a create
    /// queued behind the others could time out after moto made the user, and its retry would
    /// then find the username taken.
    public func createNumberedUsers(_ count: Int, in pool: String) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<count {
                if i >= 8 { try await group.next() }
                group.addTask {
                    _ = try await self.adminCreateUser(
                        poolID: pool, username: "user\(i)",
                        attributes: [AttributeType("email", "user\(i)@example.com"), AttributeType("email_verified", "true")]
                    )
                }
            }
            try await group.waitForAll()
        }
    }
}
