public import Foundation
import Postgres
import Synchronization

/// One Cognito user as a backfill sees it.
public struct BackfillRecord: Sendable, Equatable {
    public var sub: String
    public var username: String
    public var email: String?
    public var emailVerified: Bool
    /// `Cognito`, or the federated provider from the `identities` attribute (`Google`, …).
    public var provider: String
    public var enabled: Bool

    public init(sub: String, username: String, email: String?, emailVerified: Bool, provider: String, enabled: Bool) {
        self.sub = sub
        self.username = username
        self.email = email
        self.emailVerified = emailVerified
        self.provider = provider
        self.enabled = enabled
    }
}

/// What a backfill did (or, with `--dry-run`, would do).
public struct BackfillReport: Sendable, Equatable, Codable {
    public var seen = 0
    public var created = 0
    public var alreadyMapped = 0
    public var conflicting = 0
    /// Same sub more than once in the source (pages overlapping, files concatenated twice).
    public var duplicates = 0
    /// Records that cannot be imported (no sub, or a non-UUID sub with --reuse-sub-as-user-id).
    public var invalid = 0
    public var dryRun = false

    public init() {}

    enum CodingKeys: String, CodingKey {
        case seen, created, conflicting, duplicates, invalid
        case alreadyMapped = "already_mapped"
        case dryRun = "dry_run"
    }
}

/// A backfill run: records are staged chunk by chunk (COPY), then applied in one transaction that
/// creates users and identities for unmapped subs, with an event per created user and identity
/// and one summary event. Running the same source again creates nothing.
public final class BackfillImport: Sendable {
    public let runID = UUIDv7.make()
    let database: Database
    let pool: PoolID
    let reuseSubAsUserID: Bool
    let attribution: Attribution
    let source: String
    private let nextSequence = Mutex<Int>(0)

    public init(database: Database, pool: PoolID, reuseSubAsUserID: Bool, source: String, attribution: Attribution) {
        self.database = database
        self.pool = pool
        self.reuseSubAsUserID = reuseSubAsUserID
        self.source = source
        self.attribution = attribution
    }

    /// The pool must be registered before anything is staged.
    public func checkPool() async throws {
        let pool = self.pool
        try await database.primary.withConnection { connection in
            try IdentityRepository.requirePools([pool], on: connection)
        }
    }

    /// Stages one chunk (a ListUsers page, a few thousand file records).
    public func stage(_ records: [BackfillRecord]) async throws {
        guard !records.isEmpty else { return }
        // Gapless sequence numbers: the first occurrence of a sub in the source wins.
        let first = nextSequence.withLock { next in
            defer { next += records.count }
            return next
        }
        let runID = self.runID.uuidString.lowercased()
        let reuse = reuseSubAsUserID
        let rows: [[String?]] = records.enumerated().map { offset, record in
            // Subs are stored in Cognito's lower-case form; anything that is not a UUID is kept
            // as given so the run can count it as invalid.
            let sub = CognitoSub.canonical(record.sub) ?? record.sub
            let candidate =
                reuse
                ? UUID(uuidString: record.sub).map { $0.uuidString.lowercased() }
                : UUIDv7.make().uuidString.lowercased()
            return [
                runID, String(first + offset), sub, record.username, record.email,
                record.email.flatMap(EmailAddress.normalize), record.emailVerified ? "t" : "f", record.provider,
                record.enabled ? "t" : "f", candidate,
            ]
        }
        try await database.primary.withConnection { connection in
            try connection.copyFrom(
                """
                COPY import_staging (run_id, seq, sub, username, email, email_normalized, email_verified, provider, enabled, candidate_user_id)
                FROM STDIN
                """,
                rows: rows
            )
        }
    }

    /// Classifies and applies the staged run; with `dryRun` it only counts. Staging rows are
    /// removed either way.
    public func finish(dryRun: Bool) async throws -> BackfillReport {
        let (runID, pool, attribution, reuse, source) = (
            self.runID, self.pool.rawValue, self.attribution, self.reuseSubAsUserID, self.source
        )
        let report: BackfillReport
        do {
            report = try await database.primary.transaction { connection in
                try Self.apply(
                    runID: runID, pool: pool, reuse: reuse, source: source, dryRun: dryRun, attribution: attribution, on: connection)
            }
        } catch let rolledBack as DryRun {
            report = rolledBack.report
        } catch {
            _ = try? await database.primary.query("DELETE FROM import_staging WHERE run_id = \(runID)")
            throw error
        }
        try await database.primary.query("DELETE FROM import_staging WHERE run_id = \(runID)")
        return report
    }

    /// Removes what this run staged, for a run that failed before `finish`.
    public func discard() async {
        _ = try? await database.primary.query("DELETE FROM import_staging WHERE run_id = \(runID)")
    }

    /// The advisory-lock name (hashed with `hashtext`) that serialises writers of one pool's
    /// identities in bulk: imports, and reconciliation, whose snapshot must not be classified while
    /// an import is halfway. One definition, so the two can never drift apart.
    public static func lockName(for pool: PoolID) -> String { "stableid-import:" + pool.rawValue }

    /// Thrown inside the transaction to roll a dry run back while keeping its counts.
    struct DryRun: Error {
        var report: BackfillReport
    }

    static func apply(
        runID: UUID, pool: String, reuse: Bool, source: String, dryRun: Bool, attribution: Attribution,
        on connection: PostgresConnection
    ) throws -> BackfillReport {
        // One import per pool at a time; a second waits, then finds everything mapped.
        try connection.execute("SELECT pg_advisory_xact_lock(hashtext(\(lockName(for: PoolID(trusted: pool)))))")
        try loadRun(runID, on: connection)
        var report = BackfillReport()
        report.dryRun = dryRun
        report.seen = try connection.query("SELECT count(*) AS n FROM import_staging WHERE run_id = \(runID)")[0].decode("n")
        try decideOutcomes(pool: pool, on: connection)
        try tally(into: &report, on: connection)
        report.duplicates = report.seen - (report.created + report.alreadyMapped + report.conflicting + report.invalid)
        if dryRun { throw DryRun(report: report) }

        try create(runID: runID, pool: pool, reuse: reuse, attribution: attribution, on: connection)
        try EventLog.append(
            EventDraft(
                ImportCompletedDetails(importRun: runID, source: source, reuseSubAsUserID: reuse, report: report),
                pool: PoolID(trusted: pool)
            ),
            attribution: attribution,
            on: connection
        )
        return report
    }

    /// `backfill_run`: the staged run, one row per sub (the first occurrence wins), indexed and
    /// analysed.
    static func loadRun(_ runID: UUID, on connection: PostgresConnection) throws {
        try connection.execute(
            """
            CREATE TEMP TABLE backfill_run ON COMMIT DROP AS
            SELECT DISTINCT ON (sub) *, NULL::text AS outcome FROM import_staging
            WHERE run_id = \(runID) ORDER BY sub, seq
            """
        )
        // Temp tables have no statistics until analysed; without them the joins below plan badly.
        try connection.execute("CREATE UNIQUE INDEX ON backfill_run (sub)")
        try connection.execute("ANALYZE backfill_run")
    }

    /// Sets each row's `outcome`: `invalid`, `mapped`, `conflict` or `create`.
    static func decideOutcomes(pool: String, on connection: PostgresConnection) throws {
        // Each rule only looks at rows no earlier rule decided.
        try connection.execute(
            """
            UPDATE backfill_run SET outcome = 'invalid'
            WHERE sub !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' OR username = '' OR candidate_user_id IS NULL
            """
        )
        try connection.execute(
            """
            UPDATE backfill_run s SET outcome = 'mapped'
            FROM identities i WHERE s.outcome IS NULL AND i.pool_id = \(pool) AND i.sub = s.sub
            """
        )
        try connection.execute(
            """
            UPDATE backfill_run s SET outcome = 'conflict'
            WHERE s.outcome IS NULL AND (
                EXISTS (SELECT 1 FROM identities i WHERE i.pool_id = \(pool) AND i.username = s.username AND i.status IN ('active', 'disabled'))
                OR EXISTS (SELECT 1 FROM users u WHERE u.id = s.candidate_user_id)
            )
            """
        )
        // Two subs claiming one username in the same source: the first (by sub) may go ahead.
        try connection.execute(
            """
            UPDATE backfill_run s SET outcome = 'conflict'
            FROM (SELECT sub, row_number() OVER (PARTITION BY username ORDER BY sub) AS n FROM backfill_run WHERE outcome IS NULL) d
            WHERE d.sub = s.sub AND d.n > 1
            """
        )
        try connection.execute("UPDATE backfill_run SET outcome = 'create' WHERE outcome IS NULL")
    }

    /// Counts the outcomes into `report`.
    static func tally(into report: inout BackfillReport, on connection: PostgresConnection) throws {
        for row in try connection.query("SELECT outcome, count(*) AS n FROM backfill_run GROUP BY outcome") {
            let n: Int = try row.decode("n")
            switch try row.decode("outcome", as: String.self) {
            case "create": report.created = n
            case "mapped": report.alreadyMapped = n
            case "conflict": report.conflicting = n
            default: report.invalid = n
            }
        }
    }

    /// Creates the users and identities of the rows to `create`, with their `user_created` and
    /// `identity_linked` events.
    static func create(runID: UUID, pool: String, reuse: Bool, attribution: Attribution, on connection: PostgresConnection) throws {
        try connection.execute("INSERT INTO users (id) SELECT candidate_user_id FROM backfill_run WHERE outcome = 'create'")
        try connection.execute(
            """
            INSERT INTO identities (user_id, pool_id, sub, username, email, email_normalized, email_verified, provider, status, via)
            SELECT candidate_user_id, \(pool), sub, username, email, email_normalized, email_verified, provider,
                   CASE WHEN enabled THEN 'active' ELSE 'disabled' END, 'import'
            FROM backfill_run WHERE outcome = 'create' ORDER BY seq
            """
        )
        try EventLog.appendAll(
            kind: UserCreatedDetails.kind,
            fill: """
                INSERT INTO event_log_batch (ord, user_id, details)
                SELECT seq, candidate_user_id, \(fragment: UserCreatedDetails.sql(givenID: reuse, importRun: runID))
                FROM backfill_run WHERE outcome = 'create'
                """,
            attribution: attribution,
            on: connection
        )
        try EventLog.appendAll(
            kind: IdentityLinkedDetails.kind,
            fill: """
                INSERT INTO event_log_batch (ord, user_id, pool_id, sub, details, personal)
                SELECT seq, candidate_user_id, \(pool), sub,
                       \(fragment: IdentityLinkedDetails.sql(providerColumn: "provider", emailVerifiedColumn: "email_verified", importRun: runID)),
                       \(unescaped: EventPersonalData.sql(usernameColumn: "username", emailColumn: "email"))
                FROM backfill_run WHERE outcome = 'create'
                """,
            attribution: attribution,
            on: connection
        )
    }
}
