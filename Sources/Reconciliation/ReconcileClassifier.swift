import Foundation
import IdentityMap
import Postgres

/// The set-wise half of a run, inside its one transaction: the staged snapshot is joined with the
/// map, candidate subjects are paged through ``ReconcileRules`` (memory holds one page), the
/// findings they yield are COPYed into a working table, and one statement each upserts findings,
/// resolves those no longer seen, and records the events.
///
/// Every working table is a temporary table dropped at commit; each candidate table carries a
/// dense `n` so it pages by keyset.
enum ReconcileClassifier {
    static let pageSize = 5_000

    /// What the run knows when it classifies.
    struct Context: Sendable {
        var runID: UUID
        var scope: ReconcileScope
        var source: ReconcileSource
        /// Pool → the label of the source it was read from.
        var sources: [String: String]
        /// Pool → when its snapshot started (database time): what the map changed since then the
        /// snapshot cannot contradict.
        var snapshotStarted: [String: Date]
        /// Records read but not staged: their sub is no UUID.
        var invalidRecords: Int
        var attribution: Attribution
    }

    struct Outcome: Sendable {
        var scanned: [String: Int]
        var counts: FindingCounts
        var opened: FindingCounts
        var resolved: FindingCounts
        var warnings: [String]
        var finishedAt: Date
    }

    static func classify(_ context: Context, on connection: PostgresConnection) throws -> Outcome {
        // The joins and groupings below go over every user of every pool in the scope: with the
        // default 4 MB they spill to disk and hash joins turn into sorts. This transaction is the
        // only one of its kind (one run per scope), so it may take more for a while.
        try connection.execute("SET LOCAL work_mem = '128MB'")
        let scanned = try loadSnapshot(context, on: connection)
        try loadSnapshotStarts(context.snapshotStarted, on: connection)
        var warnings: [String] = []
        if context.invalidRecords > 0 { warnings.append("\(context.invalidRecords) records without a valid sub were left out") }
        let unchecked = try poolsNotJudged(context, scanned: scanned, warnings: &warnings, on: connection)

        try connection.execute(
            """
            CREATE TEMP TABLE recon_found (
                kind text NOT NULL, subject text NOT NULL, pool_id text, sub text, user_id uuid, evidence jsonb NOT NULL
            ) ON COMMIT DROP
            """
        )
        try judgeCognitoUsers(context, on: connection)
        try judgeMissingIdentities(context, unchecked: unchecked, on: connection)
        try judgePeople(context, on: connection)
        try judgePoolDuplicates(context, on: connection)
        try judgeSharedAccounts(on: connection)

        let (opened, resolved) = try record(context, unchecked: unchecked, on: connection)
        let counts = try FindingSQL.openCounts(scope: context.scope.key, on: connection)
        let finishedAt = try complete(
            context, scanned: scanned, counts: counts, opened: opened, resolved: resolved, warnings: warnings, on: connection
        )
        return Outcome(scanned: scanned, counts: counts, opened: opened, resolved: resolved, warnings: warnings, finishedAt: finishedAt)
    }

    // MARK: Paging candidates

    /// Pages through a candidate table, applies `rules` to each row and COPYs the findings into
    /// `recon_found`, a page at a time.
    static func judge(
        table: String, on connection: PostgresConnection, _ rules: (PostgresRow) throws -> [ReconcileRules.DetectedFinding]
    ) throws {
        try connection.execute(PostgresQuery(unsafeSQL: "CREATE INDEX ON \(table) (n)"))
        try connection.execute(PostgresQuery(unsafeSQL: "ANALYZE \(table)"))
        var after = 0
        while true {
            let rows = try connection.query("SELECT * FROM \(unescaped: table) WHERE n > \(after) ORDER BY n LIMIT \(pageSize)")
            guard let last = rows.last else { return }
            var found: [ReconcileRules.DetectedFinding] = []
            for row in rows { found += try rules(row) }
            try copy(found, on: connection)
            after = try last.decode("n")
            if rows.count < pageSize { return }
        }
    }

    static func copy(_ found: [ReconcileRules.DetectedFinding], on connection: PostgresConnection) throws {
        guard !found.isEmpty else { return }
        try connection.copyFrom(
            "COPY recon_found (kind, subject, pool_id, sub, user_id, evidence) FROM STDIN",
            rows: found.map { finding -> [String?] in
                [
                    finding.kind.rawValue, finding.subject, finding.pool?.rawValue, finding.sub, finding.userID?.uuidString.lowercased(),
                    JSONValue.object(finding.evidence).canonicalText,
                ]
            }
        )
    }

    // MARK: Decoding helpers

    static let malformed = PostgresError(kind: .decoding, message: "reconciliation working row is malformed")

    /// Pool ids come from our own tables, validated on the way in.
    static func poolID(_ text: String) throws -> PoolID {
        guard let pool = PoolID(text) else { throw malformed }
        return pool
    }
}
