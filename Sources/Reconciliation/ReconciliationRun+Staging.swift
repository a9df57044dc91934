import Cognito
public import CognitoIngest
import Foundation
public import IdentityMap
import Postgres
import Synchronization
import UserMigration

/// Staging: each pool of the scope streamed into `reconcile_snapshot` by COPY, a page or chunk at
/// a time (a live run's pages with their progress: ReconciliationRun+Resume.swift).
extension ReconciliationRun {
    /// Streams every user `source` yields into the snapshot of `pool`, and returns how many. Each
    /// pool of the scope is staged exactly once. Errors are the source's (`UserFileReader.Failure`,
    /// `CognitoError`) or staging's; the run stays open, so the caller can `abandon` it.
    ///
    /// The snapshot's start is taken from the database before the first read. A file holds the
    /// pool as it was when it was written, so its start is its modification time when that is
    /// earlier (a copy that refreshed the time makes it later than the export: then the window in
    /// which a new user is misjudged is the file's age, as before).
    ///
    /// In a live run a `.pool` source is read with its progress saved page by page, and the run
    /// decides where it starts (the source's own `startingAt` is not used): a pool a resumed run
    /// read completely is not read again, a partly read one continues from its saved token, and
    /// the count returned includes what the earlier attempts staged.
    @discardableResult
    public func stage(pool: PoolID, from source: UserSource, progress: ProgressReporter? = nil) async throws -> Int {
        if self.source == .live, case .pool(_, let client, _) = source {
            return try await stageLive(pool: pool, client: client, progress: progress)
        }
        var started = try await databaseNow()
        if case .file(let path, _) = source,
            let modified = (try? FileManager.default.attributesOfItem(atPath: path))?[.modificationDate] as? Date
        {
            started = min(started, modified)
        }
        try begin(pool: pool, label: source.label, started: started)
        var staged = 0
        for try await batch in source.batches() {
            try await copy(batch.records, pool: pool)
            staged += batch.records.count
            progress?.update(adding: batch.records.count, detail: "\(pool): \(batch.progress.description)")
        }
        return staged
    }

    /// Stages users already in memory (tests, a caller with its own reader); same rules as above.
    @discardableResult
    public func stage(pool: PoolID, records: [CognitoUserRecord], label: String = "records") async throws -> Int {
        try begin(pool: pool, label: label, started: try await databaseNow())
        try await copy(records, pool: pool)
        return records.count
    }

    private func begin(pool: PoolID, label: String, started: Date) throws {
        guard try claim(pool, label: label) == nil else {
            throw ReconciliationError.notResumable(id, "pool \(pool) was being read live; a resumed run reads it live")
        }
        state.withLock { $0.snapshotStarted[pool] = started }
    }

    /// Marks `pool` as staged by the caller, and hands over what earlier attempts of a resumed
    /// run read of it (nil for a run that was not resumed, or a pool it had not read).
    func claim(_ pool: PoolID, label: String) throws -> SavedPool? {
        guard scope.pools.contains(pool) else { throw ReconciliationError.poolNotInScope(pool.rawValue) }
        return try state.withLock { state in
            guard !state.closed else { throw ReconciliationError.runClosed(id) }
            guard state.staged[pool] == nil else { throw ReconciliationError.poolStagedTwice(pool.rawValue) }
            state.staged[pool] = label
            return state.saved.removeValue(forKey: pool)
        }
    }

    /// The database's clock, which stamps `linked_at` and `updated_at`: comparing with the host's
    /// clock would let skew open the window this guards.
    func databaseNow() async throws -> Date {
        try await database.primary.query("SELECT clock_timestamp() AS now")[0].decode("now")
    }

    /// The user id a stable-ID attribute names: a UUID in any case, spaces around it ignored (as
    /// `btrim` ignores them when the attribute is read); nil for anything else.
    static func namedUser(_ attribute: String) -> String? {
        var text = Substring(attribute)
        while text.first == " " { text.removeFirst() }
        while text.last == " " { text.removeLast() }
        return UUID(uuidString: String(text))?.uuidString.lowercased()
    }

    private func copy(_ records: [CognitoUserRecord], pool: PoolID) async throws {
        guard !records.isEmpty else { return }
        let rows = snapshotRows(records, pool: pool)
        guard !rows.isEmpty else { return }
        _ = try await database.primary.withConnection { connection in
            try connection.copyFrom(Self.snapshotCopy, rows: rows)
        }
    }

    /// The COPY that stages snapshot rows (``snapshotRows(_:pool:)`` gives them in this order).
    static let snapshotCopy: PostgresQuery = """
        COPY reconcile_snapshot (run_id, pool_id, seq, sub, username, email, email_normalized, email_verified, enabled,
                                 user_status, provider, provider_user_id, stable_id_attr, stable_id_user, subset_match)
        FROM STDIN
        """

    /// The snapshot rows of `records`, numbered on from the run's sequence. A record whose sub is
    /// no UUID cannot be anyone's identity: it is counted, not staged. A source user of a campaign
    /// over a subset carries whether it meets the subset's attribute conditions (`subset_match`),
    /// judged here by ``CampaignSubset/matches(_:)`` — the rule the triggers apply — since the
    /// snapshot keeps no other attributes; NULL otherwise.
    func snapshotRows(_ records: [CognitoUserRecord], pool: PoolID) -> [[String?]] {
        let subset = scope.role(of: pool) == .source ? scope.subset.flatMap { $0.conditions.isEmpty ? nil : $0 } : nil
        let valid = records.compactMap { record in CognitoSub.canonical(record.sub).map { (record, $0) } }
        let first = state.withLock { state in
            defer {
                state.nextSequence += valid.count
                state.invalidRecords += records.count - valid.count
            }
            return state.nextSequence
        }
        let (runID, poolText, attribute) = (id.uuidString.lowercased(), pool.rawValue, scope.stableIDAttribute)
        return valid.enumerated().map { offset, element -> [String?] in
            let (record, sub) = element
            let stableID = attribute.flatMap { record.customAttributes[$0] }
            return [
                runID, poolText, String(first + offset), sub, record.username,
                record.email, record.email.flatMap(EmailAddress.normalize), record.emailVerified ? "t" : "f",
                record.enabled ? "t" : "f", record.userStatus.rawValue, record.provider, record.federatedUserID,
                stableID, stableID.flatMap(Self.namedUser), subset.map { $0.matches(record.attribute) ? "t" : "f" },
            ]
        }
    }
}
