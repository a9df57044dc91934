import Cognito
import Foundation
import TestSupport
import Testing

/// `stableid cognito list-users`: a pool read through StableID's own Cognito client (here moto),
/// as an operator looks at what reconcile and import will see.
@Suite("stableid cognito list-users", .timeLimit(.minutes(5)))
struct CognitoListUsersTests {
    @Test("every user of every page with its sub, email and state; --count, --filter and csv; an unknown pool exits 3")
    func listUsers() async throws {
        let client = try ImportTests.moto()
        let pool = try await client.createUserPool(name: "list-\(UUID().uuidString.prefix(6))")
        // One more than a ListUsers page holds (60): the command must follow the pagination token.
        try await client.createNumberedUsers(61, in: pool)
        try await client.adminDisableUser(poolID: pool, username: "user3")
        let seven = try await client.adminGetUser(poolID: pool, username: "user7")
        let sevenSub = try #require(seven.attribute("sub"))
        let sevenStatus = try #require(seven.UserStatus)

        let listed = try CLI.run(["cognito", "list-users", "--pool", pool, "--format", "json"])
        #expect(listed.status == 0, "\(listed.stderr)")
        let rows = (try? JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [[String: String]]) ?? []
        #expect(Set(rows.compactMap { $0["username"] }) == Set((0..<61).map { "user\($0)" }), "\(listed.stdout.prefix(300))")
        #expect(rows.count == 61)
        let row = try #require(rows.first { $0["username"] == "user7" })
        #expect(row["sub"] == sevenSub && row["email"] == "user7@example.com" && row["email_verified"] == "true", "\(row)")
        #expect(row["enabled"] == "true" && row["status"] == sevenStatus, "\(row)")
        #expect(rows.first { $0["username"] == "user3" }?["enabled"] == "false")

        let counted = try CLI.run(["cognito", "list-users", "--pool", pool, "--count"])
        #expect(counted.status == 0 && counted.lastLine == "61 users in 2 pages", "\(counted.stdout) \(counted.stderr)")

        let filtered = try CLI.run(
            ["cognito", "list-users", "--pool", pool, "--filter", #"email = "user7@example.com""#, "--format", "csv"])
        #expect(filtered.status == 0, "\(filtered.stderr)")
        #expect(
            filtered.stdout.split(separator: "\n").map(String.init) == [
                "username,sub,email,email_verified,enabled,status", "user7,\(sevenSub),user7@example.com,true,true,\(sevenStatus)",
            ], "\(filtered.stdout)")

        let unknown = try CLI.run(["cognito", "list-users", "--pool", "us-east-1_Unknown0"])
        #expect(unknown.status == 3, "a Cognito failure is a runtime failure: \(unknown.stderr)")
    }
}
