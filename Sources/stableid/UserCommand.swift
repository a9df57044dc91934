import ArgumentParser
import AuditTrail
import Foundation
import IdentityMap

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Users.", subcommands: [Forget.self, Unmerge.self])

    struct Unmerge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Undo a merge: the merged user is active again with exactly the identities the merge moved."
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The user that was merged (its id keeps resolving to the survivor until now).") var from: String
        @Option(help: "The survivor it was merged into (default: the user it points at now).") var survivor: String?

        func run() async throws {
            guard let fromID = UUID(uuidString: from) else { throw CLIFailure.usage("'\(from)' is not a UUID") }
            try await database.withDatabase { db, _ in
                let store = IdentityMapStore(database: db)
                var survivorID = try survivor.map { text -> UUID in
                    guard let id = UUID(uuidString: text) else { throw CLIFailure.usage("'\(text)' is not a UUID") }
                    return id
                }
                if survivorID == nil {
                    guard let person = try await store.person(fromID), person.requestedID != nil else {
                        throw CLIFailure.usage("user \(from) is not merged into anyone")
                    }
                    survivorID = person.userID
                }
                let user = try await store.unmerge(fromID, from: survivorID!, attribution: cliAttribution).run(on: db)
                print("unmerged \(user.id.uuidString.lowercased()) with \(user.identities.count) identities")
            }
        }
    }

    struct Forget: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Erase a person's personal data (emails, usernames) from identities and events; the audit chain still verifies."
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The user id (a merged id erases its survivor and everyone merged into it).") var id: String

        func run() async throws {
            guard let userID = UUID(uuidString: id) else { throw CLIFailure.usage("'\(id)' is not a UUID") }
            try await database.withDatabase { db, _ in
                let result = try await Erasure(database: db).forget(userID: userID, attribution: cliAttribution)
                print("erased personal data of \(result.userID): \(result.identities) identities, \(result.eventsScrubbed) events")
                for subset in result.subsetValues {
                    print("removed \(subset.removed) --only value(s) from subset campaign \(subset.campaign.uuidString.lowercased())")
                }
                for row in result.finalizeRows where row.targetAccountMayExist {
                    print(
                        "warning: campaign finalize \(row.state == "created" ? "created" : "may have created") an account for this person "
                            + "in pool \(row.targetPool) (campaign \(row.campaign.uuidString.lowercased())); StableID does not delete "
                            + "Cognito users: delete it there (aws cognito-idp admin-delete-user) if the erasure covers it")
                }
            }
        }
    }
}
