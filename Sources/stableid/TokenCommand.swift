import ArgumentParser
import Foundation
import IdentityMap
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
        @Option(name: .customLong("scope"), help: "\(Scope.allNames); repeat for several.")
        var scopes: [String] = []
        @Option(
            name: .customLong("pool"),
            help:
                "With --scope trigger alone: the token may send trigger events for this pool only (a registered pool); repeat for several."
        )
        var pools: [String] = []

        func run() async throws {
            var parsed = Set<Scope>()
            for name in scopes {
                guard let scope = Scope(rawValue: name) else {
                    throw CLIFailure.usage("unknown scope '\(name)'; use \(Scope.allNames)")
                }
                parsed.insert(scope)
            }
            guard !parsed.isEmpty else { throw CLIFailure.usage("give at least one --scope") }
            var bound: Set<PoolID>?
            if !pools.isEmpty {
                guard parsed == [.trigger] else {
                    throw CLIFailure.usage(
                        "--pool binds a token whose only scope is trigger; give --scope trigger alone, or leave out --pool")
                }
                var ids = Set<PoolID>()
                for pool in pools {
                    guard let id = PoolID(pool) else {
                        throw CLIFailure.usage("--pool \(pool) is not a Cognito user pool id (region_suffix)")
                    }
                    ids.insert(id)
                }
                bound = ids
            }
            try await database.withDatabase { db, _ in
                let (token, secret) = try await TokenStore(database: db).create(
                    name: name, scopes: parsed, pools: bound, attribution: cliAttribution
                )
                .run(on: db)
                var summary =
                    "created token \(token.name) (\(token.id.uuidString.lowercased())) with scopes \(token.scopes.sorted().map(\.rawValue).joined(separator: ","))"
                if let pools = token.pools { summary += " for pools \(pools.sorted().map(\.rawValue).joined(separator: ","))" }
                FileHandle.standardError.write(Data((summary + "\n").utf8))
                if token.isUnboundTrigger {
                    FileHandle.standardError.write(
                        Data(
                            "warning: \(token.name) may send trigger events for every pool; give a forwarder a token of its own, --scope trigger alone with --pool\n"
                                .utf8))
                }
                print(secret.value)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List tokens (never their secrets).",
            discussion:
                "The pools column names the pools a trigger token is bound to; * marks a trigger token bound to none (it may send events for every pool), and a warning on stderr names them."
        )
        @OptionGroup var database: DatabaseOptions
        @Option var format: OutputFormat = .table
        @Flag(help: "Include revoked tokens.") var includeRevoked = false

        func run() async throws {
            try await database.withDatabase { db, _ in
                let tokens = try await TokenStore(database: db).list(includeRevoked: includeRevoked)
                let rows = tokens.map { token in
                    [
                        "id": token.id.uuidString.lowercased(), "name": token.name,
                        "scopes": token.scopes.sorted().map(\.rawValue).joined(separator: " "),
                        "pools": Self.pools(of: token),
                        "created_at": RFC3339.format(token.createdAt), "revoked_at": token.revokedAt.map(RFC3339.format) ?? "",
                    ]
                }
                printRows(rows, columns: ["id", "name", "scopes", "pools", "created_at", "revoked_at"], format: format)
                // On stderr, so json, ndjson and csv on stdout stay machine-readable.
                let unbound = tokens.filter { $0.isUnboundTrigger && $0.revokedAt == nil }.map(\.name)
                if !unbound.isEmpty {
                    FileHandle.standardError.write(
                        Data(
                            "warning: trigger token(s) bound to no pool, which may send events for every pool: \(unbound.joined(separator: ", ")); replace them with forwarder tokens made with --scope trigger alone and --pool (docs/OPERATIONS.md, Tokens)\n"
                                .utf8))
                }
            }
        }

        /// A bound token's pools; `*` for a trigger token bound to none; empty for other tokens.
        static func pools(of token: APIToken) -> String {
            if let pools = token.pools { return pools.sorted().map(\.rawValue).joined(separator: " ") }
            return token.isUnboundTrigger ? "*" : ""
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a token by name or id; takes effect on every server at once.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Token name or id.") var token: String

        func run() async throws {
            try await database.withDatabase { db, _ in
                let revoked = try await TokenStore(database: db).revoke(nameOrID: token, attribution: cliAttribution).run(on: db)
                print("revoked \(revoked.name) (\(revoked.id.uuidString.lowercased()))")
            }
        }
    }
}
