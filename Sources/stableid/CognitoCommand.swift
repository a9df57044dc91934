import ArgumentParser
import Cognito
import Foundation
import Logging

struct CognitoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cognito",
        abstract: "Look at a Cognito pool through StableID's client (same credentials, pacing and retries).",
        subcommands: [ListUsers.self]
    )

    struct ListUsers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list-users",
            abstract: "List a pool's users (paced at the ListUsers quota)."
        )
        @Option(help: "Pool id.") var pool: String
        @Option(help: "A ListUsers filter, e.g. 'email = \"a@example.com\"'.") var filter: String?
        @Option var format: OutputFormat = .table
        @Flag(help: "Print only the number of users and pages.") var count = false

        func run() async throws {
            LogSetup.bootstrap()
            guard let region = pool.split(separator: "_").first.map(String.init), !region.isEmpty else {
                throw CLIFailure.usage("'\(pool)' is not a Cognito user pool id")
            }
            // Configuration errors (exit 2) and Cognito failures (exit 3) are told apart by CLIFailure.
            let client = try CognitoClient.fromEnvironment(region: region, logger: Logger(label: "stableid.cognito"))
            var users = 0
            var pages = 0
            var rows: [[String: String]] = []
            for try await page in client.listUsers(poolID: pool, filter: filter) {
                pages += 1
                users += page.Users.count
                if count { continue }
                for user in page.Users {
                    let row = [
                        "username": user.Username, "sub": user.attribute("sub") ?? "", "email": user.attribute("email") ?? "",
                        "email_verified": user.attribute("email_verified") ?? "", "enabled": user.Enabled.map(String.init) ?? "",
                        "status": user.UserStatus ?? "",
                    ]
                    if format == .ndjson {
                        printRows([row], columns: Array(row.keys), format: .ndjson)
                    } else {
                        rows.append(row)
                    }
                }
            }
            if count {
                print("\(users) users in \(pages) pages")
            } else if format != .ndjson {
                printRows(rows, columns: ["username", "sub", "email", "email_verified", "enabled", "status"], format: format)
            }
        }
    }
}
