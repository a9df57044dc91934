import ArgumentParser
import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Postgres
import Support
import UserMigration

struct CampaignCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "campaign",
        abstract: "Migration campaigns: one or more source pools into a target pool.",
        subcommands: [Create.self, List.self, Show.self, Phase.self, ShowProgress.self, Report.self, Finalize.self, Cleanup.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a campaign; prints its id alone on the last line.",
            discussion: """
                The target's Migrate-user trigger checks passwords against the sources (in the order given) with
                ADMIN_USER_PASSWORD_AUTH through --source-client-id (with SECRET_HASH when that client has a secret).
                A target pool is in at most one campaign that is not done.

                The target pool is read (DescribeUserPool, ListUserPoolClients, DescribeUserPoolClient): whether anyone can sign
                up, and which app clients can write the stable-ID attribute, decide what a new sub may be linked on
                (docs/SECURITY.md). What that means for each --link-by rule is printed; when the pool cannot be read, the unsafe
                case is assumed (self sign-up on, attribute writable) and a warning says so.

                A campaign over a subset of the source users (data sovereignty): --only ATTR=V[,V…] (a standard or custom
                attribute, its value compared exactly with one of those given; several --only must all hold) and/or
                --only-file PATH (one username or sub per line, optionally after a source pool and a space). Every step of the
                campaign then concerns only members, judged from the source user's attributes at that moment
                (docs/OPERATIONS.md, A campaign over a subset of users).
                """
        )
        @OptionGroup var database: DatabaseOptions
        @Option(help: "A source pool (repeat for several: consolidation).") var source: [String] = []
        @Option(help: "The target pool.") var target: String
        @Option(help: "A name (default: into <target> and a suffix of the id).") var name: String?
        @Option(help: "App client of the source pools for the password check of lazy migration: ID for all, or POOL=ID (repeatable).")
        var sourceClientId: [String] = []
        @Option(help: "A file holding that client's secret (for SECRET_HASH), if it has one: PATH for all, or POOL=PATH (repeatable).")
        var sourceClientSecretFile: [String] = []
        @Option(help: "The target pool's custom attribute for the stable ID, e.g. custom:stable_id.") var stableIdAttribute: String?
        @Option(help: "username, email (target email = source username) or verified-email; repeatable (default: username).")
        var linkBy: [String] = []
        @Option(
            help:
                "Source users whose password check ends in an MFA challenge: reset (migrated RESET_REQUIRED: they prove their email or phone) or refuse."
        )
        var mfaUsers: String = "reset"
        @Option(
            help:
                "Only source users whose attribute has one of these values: ATTR=V[,V…], e.g. custom:country=DE,FR (repeatable: all must hold)."
        )
        var only: [String] = []
        @Option(help: "Only the source users this file lists: one username or sub per line, optionally after a source pool id and a space.")
        var onlyFile: String?
        @Flag(
            help: """
                Create the campaign although an app client of a source pool can write an --only attribute (a user could then \
                move themselves in or out of the subset).
                """)
        var allowUserWritableSubset = false

        func run() async throws {
            func pool(_ text: String) throws -> PoolID {
                guard let id = PoolID(text) else { throw CLIFailure.usage("'\(text)' is not a Cognito user pool id (region_suffix)") }
                return id
            }
            let rules = try (linkBy.isEmpty ? ["username"] : linkBy).map { text in
                guard let rule = Campaign.LinkRule(rawValue: text) else {
                    throw CLIFailure.usage("--link-by takes username, email or verified-email, not '\(text)'")
                }
                return rule
            }
            func readSecret(_ path: String) throws -> String {
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    throw CLIFailure.usage("cannot read --source-client-secret-file \(path)")
                }
                return text.trimmingCharacters(in: .whitespacesAndNewlines)
            }
            var secret: String?
            var secrets: [PoolID: String] = [:]
            for entry in sourceClientSecretFile {
                if let equals = entry.firstIndex(of: "="), let id = PoolID(String(entry[..<equals])) {
                    secrets[id] = try readSecret(String(entry[entry.index(after: equals)...]))
                } else {
                    secret = try readSecret(entry)
                }
            }
            var defaultClient: String?
            var clients: [PoolID: String] = [:]
            for entry in sourceClientId {
                if let equals = entry.firstIndex(of: "=") {
                    clients[try pool(String(entry[..<equals]))] = String(entry[entry.index(after: equals)...])
                } else {
                    defaultClient = entry
                }
            }
            var new = NewCampaign(
                name: name, target: try pool(target), sources: try source.map(pool), sourceClientID: defaultClient,
                sourceClientIDs: clients,
                sourceClientSecret: secret, stableIDAttribute: stableIdAttribute, linkBy: rules
            )
            new.sourceClientSecrets = secrets
            guard let mfa = Campaign.MFAUsers(rawValue: mfaUsers) else { throw CLIFailure.usage("--mfa-users takes reset or refuse") }
            new.mfaUsers = mfa
            new.subsetConditions = try CampaignSubset.conditions(parsing: only)
            if let onlyFile {
                guard let text = try? String(contentsOfFile: onlyFile, encoding: .utf8) else {
                    throw CLIFailure.usage("cannot read --only-file \(onlyFile) (UTF-8 text, one user per line)")
                }
                new.subsetMembers = try CampaignSubset.members(parsing: text, sources: new.sources)
            }
            try await database.withDatabase { db, _ in
                new = try new.validated()
                guard let target = try await PoolStore(database: db).pool(new.target) else {
                    throw CLIFailure.usage("pool \(new.target) is not registered (stableid pool add)")
                }
                new.targetFacts = await CampaignCommand.readFacts(of: target, attribute: new.stableIDAttribute)
                if !new.subsetConditions.isEmpty, !allowUserWritableSubset {
                    try await CampaignCommand.refuseUserWritable(new.subsetConditions.map(\.attribute), sources: new.sources, db: db)
                }
                let campaign = try await CampaignStore(database: db).create(new, attribution: cliAttribution).run(on: db)
                print(
                    "created campaign \(campaign.name): \(campaign.sources.map(\.pool.rawValue).joined(separator: ", ")) -> \(campaign.target)"
                )
                for line in campaign.targetFacts.explanation(linkBy: campaign.linkBy, stableIDAttribute: campaign.stableIDAttribute) {
                    print("  " + line)
                }
                if let subset = campaign.subset { print("  only: \(subset.summary)") }
                print(campaign.id.uuidString.lowercased())
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List campaigns.")
        @OptionGroup var database: DatabaseOptions
        @Option var format: OutputFormat = .table

        func run() async throws {
            try await database.withDatabase { db, _ in
                let rows = try await CampaignStore(database: db).list().map(CampaignCommand.row)
                printRows(rows, columns: CampaignCommand.columns, format: format)
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one campaign (by id or name).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Campaign id or name.") var campaign: String
        @Option var format: OutputFormat = .table

        func run() async throws {
            try await database.withDatabase { db, _ in
                guard let found = try await CampaignStore(database: db).campaign(campaign) else {
                    throw CLIFailure.usage("no campaign \(campaign)")
                }
                printRows([CampaignCommand.row(found)], columns: CampaignCommand.columns, format: format)
                if format == .table {
                    for line in found.targetFacts.explanation(linkBy: found.linkBy, stableIDAttribute: found.stableIDAttribute) {
                        print("  " + line)
                    }
                }
            }
        }
    }

    struct Phase: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Move a campaign to another phase (lazy, finalizing, done).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "Campaign id or name.") var campaign: String
        @Argument(help: "lazy, finalizing or done.") var phase: String

        func run() async throws {
            guard let next = Campaign.Phase(rawValue: phase) else { throw CLIFailure.usage("the phase is lazy, finalizing or done") }
            try await database.withDatabase { db, _ in
                let updated = try await CampaignStore(database: db).setPhase(campaign, to: next, attribution: cliAttribution).run(on: db)
                print("campaign \(updated.name) is \(updated.phase.rawValue)")
            }
        }
    }

    static let columns = [
        "id", "name", "target", "sources", "phase", "stable_id_attribute", "link_by", "source_client_id", "mfa_users",
        "target_self_sign_up", "target_attribute_writers", "target_sign_in_by_email", "target_facts_read_at", "created_at", "subset",
    ]

    /// The target pool's facts, read with the pool's own AWS access within a few seconds; what
    /// cannot be read stays unknown (the unsafe case) and is said so.
    /// `--only` judges membership from the source user's attribute at each decision: an attribute
    /// a user can write themselves (through an app client whose `WriteAttributes` names it, or
    /// leaves it unset: every attribute) lets them choose their side — out of a sovereignty move,
    /// or into one. Refused (exit 2) with the clients named, unless the operator accepts it.
    /// A source pool that cannot be read is refused too: nobody has shown the attribute safe.
    static func refuseUserWritable(_ attributes: [String], sources: [PoolID], db: Database) async throws {
        for source in sources {
            guard let pool = try await PoolStore(database: db).pool(source) else { continue }  // validated: registered
            var writers: [String] = []
            do {
                let client = try PoolClients().client(for: pool)
                for app in try await client.describeUserPoolClients(poolID: source.rawValue) {
                    for attribute in attributes where app.canWrite(attribute) {
                        writers.append("\(app.ClientId) (\(app.ClientName ?? "unnamed")) can write \(attribute)")
                    }
                }
            } catch {
                throw CLIFailure.usage(
                    "cannot read the app clients of source pool \(source) (ListUserPoolClients, DescribeUserPoolClient) to check "
                        + "that users cannot write the --only attributes themselves; fix access, or pass --allow-user-writable-subset")
            }
            guard writers.isEmpty else {
                throw CLIFailure.usage(
                    "--only: in source pool \(source), app client \(writers.joined(separator: "; ")) (an unset WriteAttributes "
                        + "means every attribute): a user could move themselves in or out of the subset. Take the attribute out of "
                        + "those clients' WriteAttributes, use --only-file, or pass --allow-user-writable-subset")
            }
        }
    }

    static func readFacts(of pool: Pool, attribute: String?) async -> TargetPoolFacts {
        do {
            let client = try PoolClients().client(for: pool)
            return await TargetPoolFacts.read(
                pool: pool.id, stableIDAttribute: attribute, client: client, deadline: .now + .seconds(20))
        } catch {
            return TargetPoolFacts(readAt: Date(), problem: "no AWS access configured for the pool")
        }
    }

    static func row(_ campaign: Campaign) -> [String: String] {
        [
            "id": campaign.id.uuidString.lowercased(), "name": campaign.name, "target": campaign.target.rawValue,
            "sources": campaign.sources.map(\.pool.rawValue).joined(separator: " "), "phase": campaign.phase.rawValue,
            "stable_id_attribute": campaign.stableIDAttribute ?? "", "link_by": campaign.linkBy.map(\.rawValue).joined(separator: " "),
            "source_client_id": campaign.sources.first?.clientID ?? "", "mfa_users": campaign.mfaUsers.rawValue,
            "target_self_sign_up": campaign.targetFacts.selfSignUp.map { "\($0)" } ?? "unknown",
            "target_attribute_writers": campaign.targetFacts.attributeWriters?.joined(separator: " ") ?? "unknown",
            "target_sign_in_by_email": campaign.targetFacts.signInByEmail.map { "\($0)" } ?? "unknown",
            "target_facts_read_at": campaign.targetFacts.readAt.map(RFC3339.format) ?? "",
            "created_at": RFC3339.format(campaign.createdAt),
            // Empty: every source user.
            "subset": campaign.subset?.summary ?? "",
        ]
    }
}
