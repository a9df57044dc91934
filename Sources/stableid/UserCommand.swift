import ArgumentParser
import AuditTrail
import Foundation
import IdentityMap
import Logging

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Users.", subcommands: [Forget.self])

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a person's personal data (emails, usernames) from identities and events; the audit chain still verifies."
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The user id (a merged id erases its survivor and everyone merged into it).") var id: String

        func run() async throws {
            LogSetup.bootstrap()
            guard let userID = UUID(uuidString: id) else { throw CLIFailure.usage("'\(id)' is not a UUID") }
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let result = try await Erasure(database: db).forget(userID: userID, attribution: cliAttribution)
            print("erased personal data of \(result.userID): \(result.identities) identities, \(result.eventsScrubbed) events")
        }
    }
}
