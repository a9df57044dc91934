import ArgumentParser
import Foundation
import IdentityMap
import Logging
import Support

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token",
        abstract: "API tokens (stored hashed; the secret is printed once).",
        subcommands: [Create.self, List.self, Revoke.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a token; prints the token alone on the last line of stdout."
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "A name for the token (unique among active tokens).") var name: String
        @Option(name: .customLong("scope"), help: "resolve, write, audit, trigger or admin; repeat for several.")
        var scopes: [String] = []

        func run() async throws {
            LogSetup.bootstrap()
            var parsed = Set<Scope>()
            for name in scopes {
                guard let scope = Scope(rawValue: name) else {
                    throw CLIFailure.usage("unknown scope '\(name)'; use \(Scope.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                parsed.insert(scope)
            }
            guard !parsed.isEmpty else { throw CLIFailure.usage("give at least one --scope") }
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let (token, secret) = try await TokenStore(database: db).create(name: name, scopes: parsed, attribution: cliAttribution)
                .run(on: db)
            FileHandle.standardError.write(
                Data(
                    "created token \(token.name) (\(token.id.uuidString.lowercased())) with scopes \(token.scopes.sorted().map(\.rawValue).joined(separator: ","))\n"
                        .utf8)
            )
            print(secret.value)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens (never their secrets).")
        @OptionGroup var database: DatabaseOptions
        @Option var format: OutputFormat = .table
        @Flag(help: "Include revoked tokens.") var includeRevoked = false

        func run() async throws {
            LogSetup.bootstrap()
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let tokens = try await TokenStore(database: db).list(includeRevoked: includeRevoked)
            let rows = tokens.map { token in
                [
                    "id": token.id.uuidString.lowercased(), "name": token.name,
                    "scopes": token.scopes.sorted().map(\.rawValue).joined(separator: " "),
                    "created_at": RFC3339.format(token.createdAt), "revoked_at": token.revokedAt.map(RFC3339.format) ?? "",
                ]
            }
            printRows(rows, columns: ["id", "name", "scopes", "created_at", "revoked_at"], format: format)
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by name or id; takes effect on every server at once.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Token name or id.") var token: String

        func run() async throws {
            LogSetup.bootstrap()
            let db = database.database(maxConnections: 1, logger: Logger(label: "stableid"))
            defer { db.shutdown() }
            let revoked = try await TokenStore(database: db).revoke(nameOrID: token, attribution: cliAttribution).run(on: db)
            print("revoked \(revoked.name) (\(revoked.id.uuidString.lowercased()))")
        }
    }
}
