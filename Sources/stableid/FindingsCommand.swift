public import ArgumentParser
import Foundation
import IdentityMap
import Reconciliation
import Support
import UserMigration

/// `stableid findings list|show|ack`: what reconciliation found, for the person who decides.
struct FindingsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "findings",
        abstract: "List, show and acknowledge reconciliation findings.",
        subcommands: [List.self, Show.self, Ack.self]
    )

    /// The filters `list` and a bulk `ack` share.
    struct FilterOptions: ParsableArguments {
        @Option(parsing: .upToNextOption, help: "Only these kinds.") var kind: [FindingKind] = []
        @Option(help: "open, resolved or acknowledged (an expired acknowledgement is open).") var state: FindingState?
        @Option(help: "Only findings of this campaign (id or name).") var campaign: String?
        @Option(help: "Only findings about this pool.") var pool: String?
        @Option(help: "Only findings about this user.") var user: String?

        func filter(_ db: Database, defaultState: FindingState? = nil) async throws -> FindingFilter {
            var filter = FindingFilter(kinds: Set(kind), state: state ?? defaultState)
            if let campaign {
                guard let found = try await CampaignStore(database: db).campaign(campaign)?.id else {
                    throw CLIFailure.usage("no campaign '\(campaign)'")
                }
                filter.campaignID = found
            }
            if let pool {
                guard let id = PoolID(pool) else { throw CLIFailure.usage("'\(pool)' is not a Cognito user pool id") }
                filter.pool = id
            }
            if let user {
                guard let id = UUID(uuidString: user) else { throw CLIFailure.usage("--user is not a UUID") }
                filter.userID = id
            }
            return filter
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Findings, oldest first (open ones unless --state says otherwise).")
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var filters: FilterOptions
        @Option(help: "At most this many (all when 0).") var limit = 0
        @Option var format: OutputFormat = .table

        func run() async throws {
            try await database.withDatabase { db, _ in
                let filter = try await filters.filter(db, defaultState: .open)
                let store = FindingStore(database: db)
                var findings: [Finding] = []
                var after: Int64 = 0
                while limit == 0 || findings.count < limit {
                    let page = try await store.list(filter, after: after, limit: FindingStore.maxPage)
                    findings += page
                    guard let last = page.last, page.count == FindingStore.maxPage else { break }
                    after = last.id
                }
                if limit > 0 { findings = Array(findings.prefix(limit)) }
                switch format {
                case .json:
                    let encoder = JSONEncoder.sortedKeys()
                    encoder.outputFormatting.insert(.prettyPrinted)
                    print(String(decoding: try encoder.encode(findings), as: UTF8.self))
                case .ndjson:
                    let encoder = JSONEncoder.sortedKeys()
                    for finding in findings { print(String(decoding: try encoder.encode(finding), as: UTF8.self)) }
                case .table, .csv:
                    printRows(
                        findings.map { finding in
                            [
                                "id": "\(finding.id)", "kind": finding.kind.rawValue, "state": finding.state.rawValue,
                                "subject": finding.subject, "user": finding.userID?.uuidString.lowercased() ?? "",
                                "first_seen": RFC3339.format(finding.firstSeenAt), "last_seen": RFC3339.format(finding.lastSeenAt),
                                "reason": finding.evidence["reason"]?.stringValue ?? "",
                            ]
                        },
                        columns: ["id", "kind", "state", "subject", "user", "first_seen", "last_seen", "reason"], format: format
                    )
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One finding with its evidence (JSON).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The finding's id.") var id: Int64

        func run() async throws {
            try await database.withDatabase { db, _ in
                guard let finding = try await FindingStore(database: db).finding(id) else { throw CLIFailure.usage("no finding \(id)") }
                let encoder = JSONEncoder.sortedKeys()
                encoder.outputFormatting.insert(.prettyPrinted)
                print(String(decoding: try encoder.encode(finding), as: UTF8.self))
            }
        }
    }

    struct Ack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Acknowledge findings (by id, or every open one matching the filters): they stop counting as open.",
            discussion:
                "E.g. churned users: stableid findings ack --kind unmigrated --campaign move-eu --reason 'churned' --until 2027-06-01T00:00:00Z"
        )
        @OptionGroup var database: DatabaseOptions
        @OptionGroup var filters: FilterOptions
        @Option(name: .customLong("id"), parsing: .upToNextOption, help: "Finding ids.") var ids: [Int64] = []
        @Option(help: "Why (recorded in the finding and its event).") var reason: String
        @Option(help: "RFC 3339 time after which the findings count as open again.") var until: String?

        func validate() throws {
            guard !reason.trimmingCharacters(in: .whitespaces).isEmpty, reason.count <= 500 else {
                throw ValidationError("--reason must be 1 to 500 characters")
            }
            let filtering =
                !filters.kind.isEmpty || filters.state != nil || filters.campaign != nil || filters.pool != nil || filters.user != nil
            guard ids.isEmpty != !filtering else {
                throw ValidationError("give either --id or filters (--kind, --campaign, --pool, --user)")
            }
        }

        func run() async throws {
            let until = try self.until.map { text -> Date in
                guard let date = RFC3339.parse(text) else { throw CLIFailure.usage("--until is not an RFC 3339 time") }
                return date
            }
            try await database.withDatabase { db, _ in
                let store = FindingStore(database: db)
                let acknowledged: [Int64]
                do {
                    if ids.isEmpty {
                        let filter = try await filters.filter(db, defaultState: .open)
                        acknowledged = try await store.acknowledge(
                            matching: filter, reason: reason, until: until, attribution: cliAttribution
                        )
                        .run(on: db)
                    } else {
                        acknowledged = try await store.acknowledge(
                            ids, reason: reason, until: until, attribution: cliAttribution
                        )
                        .run(on: db)
                    }
                } catch let error as ReconciliationError {
                    throw CLIFailure.usage("\(error)")
                }
                print("acknowledged \(acknowledged.count) finding(s)")
            }
        }
    }
}
