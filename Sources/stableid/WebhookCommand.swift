import ArgumentParser
import Foundation
import IdentityMap
import Support
import Webhooks

struct WebhookCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "webhook",
        abstract: "Webhook endpoints: `serve` POSTs the change feed to them, signed (Standard Webhooks).",
        discussion: """
            Each endpoint gets the changes of its kinds, in order, from a cursor of its own kept in \
            PostgreSQL; failed requests are retried with backoff for 24 hours, then the endpoint is \
            disabled until `webhook enable` (docs/OPERATIONS.md, Webhooks).
            """,
        subcommands: [Add.self, List.self, Remove.self, Enable.self, Disable.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register an endpoint; prints its id alone on the last line of stdout.",
            discussion: """
                The secret file holds a Standard Webhooks secret — whsec_ followed by the base64 of 24 to \
                64 random bytes, e.g. printf 'whsec_%s\\n' "$(openssl rand -base64 32)" > F — which the \
                receiver uses to check signatures. It is never printed; lists show its fingerprint (the \
                first 8 hex digits of its SHA-256). Deliveries start at the end of the feed now.
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The endpoint's URL: https, a public address (http and private addresses need --allow-private).")
        var url: String
        @Option(help: "A file holding the endpoint's signing secret (whsec_…).") var secretFile: String
        @Option(help: "Change kinds to deliver, comma-separated (e.g. identity.linked,user.merged); default: every kind.")
        var kinds: String?
        @Flag(help: "Allow http and loopback, private or link-local addresses (a receiver on this network).")
        var allowPrivate = false
        @Option(help: "A note on what the endpoint is for (1 to 200 characters).") var description: String?

        func run() async throws {
            let secret = try Self.secret(from: secretFile)
            let names = kinds.map { $0.split(separator: ",").map(String.init) } ?? []
            try await database.withDatabase { db, _ in
                let webhook = try await WebhookStore(database: db).add(
                    url: url, secret: secret, kinds: names, allowPrivate: allowPrivate, note: description, attribution: cliAttribution
                )
                .run(on: db)
                let kinds = webhook.kindNames.isEmpty ? "every kind" : webhook.kindNames.joined(separator: ",")
                FileHandle.standardError.write(
                    Data("added webhook \(webhook.redactedURL) for \(kinds), secret \(webhook.secretFingerprint)\n".utf8))
                print(webhook.id.uuidString.lowercased())
            }
        }

        /// The secret in `path`, checked; never echoed, whatever the file holds.
        static func secret(from path: String) throws -> WebhookSecret {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw CLIFailure.usage("cannot read the secret file \(path)")
            }
            guard let text = String(data: data, encoding: .utf8) else { throw WebhookError.invalidSecret }
            let attributes = try? FileManager.default.attributesOfItem(atPath: path)
            if let mode = (attributes?[.posixPermissions] as? NSNumber)?.intValue, mode & 0o004 != 0 {
                FileHandle.standardError.write(Data("warning: \(path) is readable by every user of this machine\n".utf8))
            }
            return try WebhookSecret(parsing: text)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List endpoints: URL (credentials and query hidden), kinds, state, cursor, failures — never secrets."
        )
        @OptionGroup var database: DatabaseOptions
        @Option var format: OutputFormat = .table

        func run() async throws {
            try await database.withDatabase { db, _ in
                let rows = try await WebhookStore(database: db).list().map(Self.row)
                printRows(
                    rows,
                    columns: [
                        "id", "url", "kinds", "state", "disabled_reason", "cursor", "attempts", "failing_since", "last_error_code",
                        "last_success_at", "secret_fingerprint", "allow_private", "description", "created_at",
                    ], format: format)
            }
        }

        static func row(_ webhook: Webhook) -> [String: String] {
            [
                "id": webhook.id.uuidString.lowercased(), "url": webhook.redactedURL,
                "kinds": webhook.kindNames.isEmpty ? "*" : webhook.kindNames.joined(separator: ","), "state": webhook.state.rawValue,
                "disabled_reason": webhook.disabledReason ?? "", "cursor": webhook.cursorText, "attempts": String(webhook.attempts),
                "failing_since": webhook.failingSince.map(RFC3339.format) ?? "", "last_error_code": webhook.lastErrorCode ?? "",
                "last_success_at": webhook.lastSuccessAt.map(RFC3339.format) ?? "", "secret_fingerprint": webhook.secretFingerprint,
                "allow_private": webhook.allowPrivate ? "true" : "false", "description": webhook.note ?? "",
                "created_at": RFC3339.format(webhook.createdAt),
            ]
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an endpoint and its secret; deliveries to it stop.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The endpoint's id.") var id: String

        func run() async throws {
            let id = try WebhookCommand.id(self.id)
            try await database.withDatabase { db, _ in
                let webhook = try await WebhookStore(database: db).remove(id, attribution: cliAttribution).run(on: db)
                print("removed webhook \(webhook.id.uuidString.lowercased()) (\(webhook.redactedURL))")
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enable a disabled endpoint: deliveries resume from its cursor (the message it was failing on first)."
        )
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The endpoint's id.") var id: String
        @Flag(help: "Resume from the end of the feed instead, skipping what it missed (its cursor fell behind the retention).")
        var fromEnd = false

        func run() async throws {
            let id = try WebhookCommand.id(self.id)
            try await database.withDatabase { db, _ in
                let webhook = try await WebhookStore(database: db).enable(id, fromEnd: fromEnd, attribution: cliAttribution).run(on: db)
                print("webhook \(webhook.id.uuidString.lowercased()) is \(webhook.state.rawValue), cursor \(webhook.cursorText)")
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop deliveries to an endpoint until `webhook enable`.")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The endpoint's id.") var id: String

        func run() async throws {
            let id = try WebhookCommand.id(self.id)
            try await database.withDatabase { db, _ in
                let webhook = try await WebhookStore(database: db).disable(id, attribution: cliAttribution).run(on: db)
                print("webhook \(webhook.id.uuidString.lowercased()) is \(webhook.state.rawValue)")
            }
        }
    }

    static func id(_ text: String) throws -> UUID {
        guard let id = UUID(uuidString: text) else { throw CLIFailure.usage("'\(text)' is not a webhook id (a UUID)") }
        return id
    }
}
