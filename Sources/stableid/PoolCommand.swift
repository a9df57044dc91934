import ArgumentParser
import Foundation
import IdentityMap
import Support

struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Register, change and list Cognito user pools.",
        subcommands: [Add.self, Update.self, List.self]
    )

    static var tokenClientHelp: ArgumentHelp {
        "An app client whose tokens POST /v1/resolve/token accepts for this pool; repeat for several (default: any client)."
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a user pool.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Pool id, e.g. us-east-1_AbC123.") var id: String
        @Option(help: "Region (default: the pool id's prefix).") var region: String?
        @Option(help: "A human name.") var name: String?
        @Option(help: "Token issuer URL (default: https://cognito-idp.<region>.amazonaws.com/<id>).") var issuer: String?
        @Option(help: "An IAM role to assume (STS) to reach this pool, e.g. in another AWS account.") var roleArn: String?
        @Option(help: "The external id the role's trust policy requires.") var externalId: String?
        @Option(help: "A profile of the AWS shared files to reach this pool with.") var profile: String?
        @Option(name: .customLong("token-client-id"), help: PoolCommand.tokenClientHelp) var tokenClientIDs: [String] = []

        func run() async throws {
            guard let poolID = PoolID(id) else { throw CLIFailure.usage("'\(id)' is not a Cognito user pool id (region_suffix)") }
            try await database.withDatabase { db, _ in
                let pool = try await PoolStore(database: db).add(
                    id: poolID, region: region, name: name, issuer: issuer,
                    access: PoolAccess(roleARN: roleArn, externalID: externalId, profile: profile),
                    tokenClientIDs: tokenClientIDs.isEmpty ? nil : tokenClientIDs, attribution: cliAttribution
                )
                .run(on: db)
                print("registered \(pool.id) (\(pool.region)) issuer \(pool.issuer)\(Self.clients(pool))")
            }
        }

        static func clients(_ pool: Pool) -> String {
            pool.tokenClientIDs.map { " token clients \($0.joined(separator: ","))" } ?? ""
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a registered pool: the app clients whose tokens POST /v1/resolve/token accepts.",
            discussion: """
                --token-client-id (repeatable) replaces the allow-list; --any-token-client lifts it. \
                Running servers see a change made here within 5 seconds.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "Pool id, e.g. us-east-1_AbC123.") var id: String
        @Option(name: .customLong("token-client-id"), help: PoolCommand.tokenClientHelp) var tokenClientIDs: [String] = []
        @Flag(help: "Accept tokens of any app client of the pool (lifts the allow-list).") var anyTokenClient = false

        func run() async throws {
            guard let poolID = PoolID(id) else { throw CLIFailure.usage("'\(id)' is not a Cognito user pool id (region_suffix)") }
            guard tokenClientIDs.isEmpty == anyTokenClient else {
                throw CLIFailure.usage("give --token-client-id (one or more) or --any-token-client")
            }
            try await database.withDatabase { db, _ in
                let pool = try await PoolStore(database: db).setTokenClients(
                    anyTokenClient ? nil : tokenClientIDs, of: poolID, attribution: cliAttribution
                )
                .run(on: db)
                print("updated \(pool.id): token clients \(pool.tokenClientIDs?.joined(separator: ",") ?? "any")")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered pools.")
        @OptionGroup var database: DatabaseOptions
        @Option var format: OutputFormat = .table

        func run() async throws {
            try await database.withDatabase { db, _ in
                let rows = try await PoolStore(database: db).list().map { pool in
                    [
                        "id": pool.id.rawValue, "region": pool.region, "name": pool.name ?? "", "issuer": pool.issuer,
                        "created_at": RFC3339.format(pool.createdAt), "role_arn": pool.access.roleARN ?? "",
                        "aws_profile": pool.access.profile ?? "", "token_client_ids": pool.tokenClientIDs?.joined(separator: ",") ?? "",
                    ]
                }
                printRows(
                    rows, columns: ["id", "region", "name", "issuer", "created_at", "role_arn", "aws_profile", "token_client_ids"],
                    format: format)
            }
        }
    }
}
