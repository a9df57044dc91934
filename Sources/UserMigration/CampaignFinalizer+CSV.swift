import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Logging
import Postgres

// `--mode csv`: user-import files for Cognito import jobs. A source pool read live (ListUsers) is
// checked against the unmigrated set a page at a time, each page's query running while the next
// page is read. A list-users file is read far faster than a query per batch answers, so its pool's
// unmigrated set is read first, whole, into a CSVDecisionTable (in slices when it is large, the
// file then read once per slice) and the file checked against it in memory.
extension CampaignFinalizer {
    static let csvBatch = 5_000

    func export(_ plan: Plan, options: Options, progress: ProgressReporter?, into summary: inout FinalizeSummary) async throws {
        guard !options.resume else {
            throw MigrationError.invalidCampaign("--resume is for invite and passwordless: run a CSV export again into an empty --out")
        }
        if let stray = options.files.keys.sorted().first(where: { plan.sources[$0] == nil }) {
            throw MigrationError.invalidCampaign("--file names \(stray), which is not a source pool of campaign \(plan.campaign.name)")
        }
        let files = options.files.values.sorted()
        if let lossy = files.first(where: { UserFileReader.format(of: $0, given: options.fileFormat) == .csv }) {
            throw MigrationError.invalidCampaign(
                "\(lossy) would be read as a list-users CSV file, which carries no names, phone numbers or other standard "
                    + "attributes: the import files would lose them; give a list-users JSON file (aws cognito-idp list-users) "
                    + "or leave --file out to read the pool live")
        }
        let (header, headerSource) = try await csvHeader(plan)
        if let problem = CSVHeader.problem(in: header, stableIDAttribute: plan.stableIDAttribute) {
            throw MigrationError.invalidCampaign(problem)
        }
        summary.headerSource = headerSource
        var writer: UserImportCSVWriter?
        if !options.dryRun {
            guard let out = options.outDirectory else { throw MigrationError.invalidCampaign("--mode csv needs --out DIR") }
            writer = try UserImportCSVWriter(directory: out, name: plan.campaign.name, header: header)
        }
        try await enterFinalizing(plan, options: options)
        let budget = FinalizeBudget(options.limit)
        for source in plan.campaign.sources {
            guard let pool = plan.sources[source.pool], !budget.exhausted else { continue }
            if let file = options.files[pool.id] {
                try await exportFile(
                    pool, file: file, plan: plan, options: options, header: header, writer: writer, budget: budget, progress: progress,
                    into: &summary)
            } else {
                var users = try SourceUsers(pool: pool, file: nil, format: options.fileFormat, client: client(for: pool))
                try await exportPool(
                    pool, from: &users, plan: plan, header: header, writer: writer, budget: budget, progress: progress, into: &summary)
            }
        }
        summary.limitReached = budget.exhausted
        summary.files = try writer?.finish() ?? []
        guard !options.dryRun else { return }
        let details = CampaignFinalizeExportedDetails(
            campaign: plan.campaign.id, reconciliationRun: plan.reconciliation.run, files: summary.files.count, users: summary.exported,
            held: summary.heldCount, skipped: summary.skippedTotal, headerSource: headerSource
        )
        let attribution = self.attribution
        _ = try await database.primary.transaction { connection in
            try EventLog.append(EventDraft(details, pool: plan.campaign.target), attribution: attribution, on: connection)
        }
    }

    /// `GetCSVHeader`, or the header derived from DescribeUserPool's schema when Cognito will not
    /// say (moto answers 500; a role may lack the permission). Returns where it came from.
    func csvHeader(_ plan: Plan) async throws -> ([String], String) {
        do {
            let header = try await client(for: plan.target).getCSVHeader(poolID: plan.target.id.rawValue, deadline: .now + .seconds(3))
            if !header.isEmpty { return (header, "GetCSVHeader") }
        } catch let error as CognitoError {
            logger.notice(
                "GetCSVHeader failed; deriving the header from DescribeUserPool",
                metadata: ["error": "\(error.type?.rawValue ?? "no answer")"])
        }
        guard let schema = plan.schemaAttributeNames else {
            throw MigrationError.invalidCampaign(
                "cannot read the target pool's CSV header (GetCSVHeader) nor its schema (DescribeUserPool)")
        }
        return (CSVHeader.derive(schemaAttributeNames: schema), "DescribeUserPool")
    }

    /// One source pool from a list-users file: its unmigrated set read into a table (a slice at a
    /// time when large), then the file checked against it batch by batch.
    func exportFile(
        _ pool: Pool, file: String, plan: Plan, options: Options, header: [String], writer: UserImportCSVWriter?, budget: FinalizeBudget,
        progress: ProgressReporter?, into summary: inout FinalizeSummary
    ) async throws {
        let (slices, perSlice) = try await store.csvDecisionSlices(
            campaign: plan.campaign, pool: pool.id, capacity: options.csvTableCapacity)
        for (number, slice) in slices.enumerated() {
            guard !budget.exhausted else { return }
            let table = try await store.csvDecisionTable(campaign: plan.campaign, pool: pool.id, slice: slice, expected: perSlice)
            logger.info(
                "read the unmigrated set for the CSV export",
                metadata: ["pool": "\(pool.id)", "users": "\(table.count)", "slice": "\(number + 1)/\(slices.count)"])
            let reader = try UserFileReader(path: file, format: options.fileFormat)
            let pass = slices.count > 1 ? " (pass \(number + 1) of \(slices.count))" : ""
            while !budget.exhausted {
                let batch = try reader.next(max: Self.csvBatch)
                guard !batch.isEmpty else { break }
                try write(
                    batch, decide: { table.decision(forSub: batch[$0].attribute("sub")) }, plan: plan, header: header, writer: writer,
                    budget: budget, into: &summary)
                progress?.update(adding: batch.count, detail: "exported \(summary.exported + summary.wouldCreate)\(pass)")
            }
        }
    }

    /// One source pool read live: each page's decisions are asked while the next page is read.
    func exportPool(
        _ pool: Pool, from users: inout SourceUsers, plan: Plan, header: [String], writer: UserImportCSVWriter?, budget: FinalizeBudget,
        progress: ProgressReporter?, into summary: inout FinalizeSummary
    ) async throws {
        let store = self.store
        let campaign = plan.campaign
        var pending: (users: [UserType], decisions: Task<[Int: FinalizeCSVDecision], any Error>)?
        defer { pending?.decisions.cancel() }
        while true {
            var batch: [UserType]?
            if !budget.exhausted { batch = try await users.next() }
            if let previous = pending {
                pending = nil
                let decisions = try await previous.decisions.value
                try write(
                    previous.users, decide: { decisions[$0] }, plan: plan, header: header, writer: writer, budget: budget, into: &summary)
                progress?.update(adding: previous.users.count, detail: "exported \(summary.exported + summary.wouldCreate)")
            }
            guard let batch, !budget.exhausted else { return }
            let subs = batch.map { $0.attribute("sub").flatMap(CognitoSub.canonical) ?? "" }
            let poolID = pool.id
            pending = (users: batch, decisions: Task { try await store.csvDecisions(campaign: campaign, pool: poolID, subs: subs) })
        }
    }

    /// The rows of one batch: users of the unmigrated set, each person once, none held.
    func write(
        _ users: [UserType], decide: (Int) -> FinalizeCSVDecision?, plan: Plan, header: [String], writer: UserImportCSVWriter?,
        budget: FinalizeBudget, into summary: inout FinalizeSummary
    ) throws {
        for (index, user) in users.enumerated() {
            guard let decision = decide(index) else { continue }  // not in the unmigrated set
            let outcome: FinalizeOutcome
            if !decision.chosen {
                outcome = .ignored
            } else if decision.inTarget {
                outcome = .skipped(.alreadyInTarget)
            } else if let hold = plan.holds[decision.person] {
                outcome = .held(hold)
            } else if !decision.sourceActive {
                outcome = .skipped(.sourceChanged)
            } else if user.Enabled == false {
                outcome = .skipped(.sourceDisabled)
            } else if let subset = plan.campaign.subset, !subset.matches({ user.attribute($0) }) {
                outcome = .skipped(.outsideSubset)
            } else {
                var attributes: [String: String] = [:]
                for attribute in user.Attributes ?? [] { attributes[attribute.Name] = attribute.Value }
                switch FinalizeAccount.plan(
                    mode: .csv, person: decision.person, sourceUsername: user.Username, sourceAttributes: attributes,
                    stableIDAttribute: plan.stableIDAttribute, targetUsernameAttributes: plan.usernameAttributes
                ) {
                case .failure(let reason):
                    outcome = .skipped(reason)
                case .success(let account):
                    guard budget.take() else { return }
                    if let writer {
                        try writer.write(account.csvRow(header: header))
                        outcome = .exported
                    } else {
                        outcome = .wouldCreate(decision.person)
                    }
                }
            }
            summary.record(outcome)
        }
    }
}

/// A source pool's users, a batch at a time: a list-users file (every attribute it holds), or
/// ListUsers itself. Not `Sendable`: read by the one task exporting the pool.
struct SourceUsers {
    private let reader: UserFileReader?
    private var pages: ListUsersPages.AsyncIterator?

    init(pool: Pool, file: String?, format: UserFileReader.Format?, client: CognitoClient) throws {
        if let file {
            reader = try UserFileReader(path: file, format: format)
            pages = nil
        } else {
            reader = nil
            pages = client.listUsers(poolID: pool.id.rawValue).makeAsyncIterator()
        }
    }

    /// The next batch; nil at the end.
    mutating func next() async throws -> [UserType]? {
        if let reader {
            let users = try reader.next(max: CampaignFinalizer.csvBatch)
            return users.isEmpty ? nil : users
        }
        return try await pages?.next()?.Users
    }
}
