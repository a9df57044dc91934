public import Foundation
public import IdentityMap
import Postgres

/// A campaign's progress (``CampaignProgress``), read from the daily rollup the triggers of
/// `sql/0016` keep: a few rows per day of the campaign, whatever the size of the map or of the
/// event log. Everything is read on the reader (a replica when there is one) in one REPEATABLE
/// READ transaction, so the curve and the remaining count describe the same moment.
public struct CampaignProgressStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The ranges a progress query accepts: a share strictly between 0 and 1, and a window of one
    /// to 52 weeks (7 to 365 days). The CLI and the API check their arguments here before reading.
    public static func validate(level: Double, windowDays: Int) throws(MigrationError) {
        guard level.isFinite, level > 0, level < 1 else {
            throw .invalidProgressQuery("the level is a share between 0 and 1, exclusive (0.01 for 1 %)")
        }
        guard (7...365).contains(windowDays) else {
            throw .invalidProgressQuery("the projection's window is 1 to 52 weeks (7 to 365 days)")
        }
    }

    /// Links per UTC day and path from the campaign's creation (or its first link, when earlier)
    /// through today, what remains, and the projection of when the remaining share falls below
    /// `level`, fitted on the last `windowDays`.
    public func progress(
        of campaign: Campaign, level: Double = 0.01, windowDays: Int = 28, now: Date = Date()
    ) async throws
        -> CampaignProgress
    {
        try Self.validate(level: level, windowDays: windowDays)
        let reading = try await database.reader.withConnection { connection in
            try connection.transaction(isolation: .repeatableRead) { connection in
                try Self.read(campaign, on: connection)
            }
        }
        let days = CampaignProgress.days(
            from: reading.links, firstDay: UTCDay.number(campaign.createdAt), lastDay: UTCDay.number(now))
        let migrated = days.last?.cumulative ?? 0
        let projection = ProgressProjection.fit(
            remainingByDay: CampaignProgress.remainingByDay(days, remainingNow: reading.remaining), total: migrated + reading.remaining,
            level: level, windowDays: windowDays, today: now)
        return CampaignProgress(
            campaign: campaign, days: days, totals: CampaignProgress.totals(of: days), migrated: migrated,
            remaining: reading.remaining, remainingSource: reading.source, remainingAsOf: now, reconciliationRun: reading.run,
            projection: projection)
    }

    struct Reading: Sendable {
        var links: [CampaignProgress.DailyLinks]
        var remaining: Int
        var source: CampaignProgress.RemainingSource
        var run: UUID?
    }

    static func read(_ campaign: Campaign, on connection: PostgresConnection) throws -> Reading {
        let links = try connection.query(
            """
            SELECT day - DATE '1970-01-01' AS day_number, via, sum(links)::bigint AS links
            FROM campaign_daily_links WHERE campaign_id = \(campaign.id)
            GROUP BY day, via HAVING sum(links) <> 0
            """
        ).map { row in
            CampaignProgress.DailyLinks(
                day: try row.decode("day_number"),
                // The table's CHECK admits only LinkPath's values, and the rollup reads NULL as manual.
                via: LinkPath(rawValue: try row.decode("via")) ?? .manual,
                links: try row.decode("links"))
        }
        if let reconciled = try remainingAfterReconciliation(campaign, on: connection) {
            return Reading(links: links, remaining: reconciled.remaining, source: .reconciliation, run: reconciled.run)
        }
        return Reading(links: links, remaining: try remainingInMap(campaign, on: connection), source: .map, run: nil)
    }

    /// The latest completed reconciliation of the campaign: the `unmigrated` findings it left open
    /// (its `counts`), adjusted for what changed since it finished — acknowledgements made since
    /// and still in force take users off (an operator said not to wait for them), acknowledgements
    /// that ran out since put them back — less the waiting users whose person the campaign has
    /// linked in the target since. Source users, not links: a link since the run of someone who was
    /// not waiting (a sign-up, a second identity, a relink) takes nobody off.
    ///
    /// Only what changed since the run is read (a day's links, the few acknowledgements), never
    /// the open findings themselves: a campaign with 100,000 users left would otherwise count them
    /// on every request. Since it *finished*, not since it started reading: the run judges
    /// "migrated" against the map as its classifying transaction sees it at the end, so a link made
    /// while it read the pools already resolved its finding.
    static func remainingAfterReconciliation(_ campaign: Campaign, on connection: PostgresConnection) throws -> Reconciled? {
        guard
            let run = try connection.query(
                """
                SELECT id, finished_at, coalesce((counts->>'unmigrated')::bigint, 0) AS unmigrated FROM reconcile_runs
                WHERE campaign_id = \(campaign.id) AND status = 'completed'
                ORDER BY finished_at DESC, id DESC LIMIT 1
                """
            ).first
        else { return nil }
        let finished: Date = try run.decode("finished_at")
        let scope = "campaign:\(campaign.id.uuidString.lowercased())"
        let waiting: PostgresQuery = """
            f.scope = \(scope) AND f.kind = 'unmigrated'
            AND (f.state = 'open' OR (f.state = 'acknowledged' AND f.ack_until IS NOT NULL AND f.ack_until <= now()))
            """
        let row = try connection.query(
            """
            WITH moved AS (
                SELECT DISTINCT \(fragment: Person.survivor(of: "u")) AS person
                FROM identities i JOIN users u ON u.id = i.user_id
                WHERE i.campaign_id = \(campaign.id) AND i.linked_at >= \(finished)
                  AND i.pool_id = \(campaign.target.rawValue) AND i.status = 'active'
            )
            SELECT (SELECT count(*) FROM findings f
                    WHERE f.scope = \(scope) AND f.state = 'acknowledged' AND f.kind = 'unmigrated'
                      AND f.acknowledged_at > \(finished) AND (f.ack_until IS NULL OR f.ack_until > now())) AS hidden,
                   (SELECT count(*) FROM findings f
                    WHERE f.scope = \(scope) AND f.state = 'acknowledged' AND f.kind = 'unmigrated'
                      AND f.acknowledged_at <= \(finished) AND f.ack_until > \(finished) AND f.ack_until <= now()) AS expired,
                   (SELECT count(*) FROM findings f JOIN moved m ON m.person = f.user_id WHERE \(fragment: waiting)) AS moved
            """
        )[0]
        let atFinish: Int = try run.decode("unmigrated")
        let hidden: Int = try row.decode("hidden")
        let expired: Int = try row.decode("expired")
        let moved: Int = try row.decode("moved")
        return Reconciled(remaining: max(0, atFinish - hidden + expired - moved), run: try run.decode("id"))
    }

    struct Reconciled {
        var remaining: Int
        var run: UUID
    }

    /// Without a reconciliation, the map alone: people (merges followed, ``Person/survivor(of:)``)
    /// with an active identity in a source pool and none in the target. It reads every active
    /// identity of those pools, so its time grows with them; after a reconciliation run it is not asked.
    /// A campaign over a subset counts only source identities its member file lists; the map
    /// keeps no attributes, so `--only` conditions count from the first reconciliation on (until
    /// then this is an upper bound).
    static func remainingInMap(_ campaign: Campaign, on connection: PostgresConnection) throws -> Int {
        let listed: PostgresQuery =
            campaign.subset?.hasMemberFile == true
            ? CampaignSubsetStore.listed(campaign: campaign.id, pool: "i.pool_id", sub: "i.sub", username: "i.username") : "true"
        return try connection.query(
            """
            WITH source_people AS (
                SELECT DISTINCT s.id FROM identities i
                JOIN users u ON u.id = i.user_id
                JOIN users s ON s.id = \(fragment: Person.survivor(of: "u"))
                WHERE i.pool_id = ANY(\(PostgresArray(campaign.sources.map(\.pool.rawValue)))::text[])
                  AND i.status = 'active' AND s.status = 'active' AND \(fragment: listed)
            ), target_people AS (
                SELECT DISTINCT \(fragment: Person.survivor(of: "u")) AS id FROM identities i
                JOIN users u ON u.id = i.user_id
                WHERE i.pool_id = \(campaign.target.rawValue) AND i.status = 'active'
            )
            SELECT count(*) AS n FROM source_people p WHERE NOT EXISTS (SELECT 1 FROM target_people t WHERE t.id = p.id)
            """
        )[0].decode("n")
    }
}
