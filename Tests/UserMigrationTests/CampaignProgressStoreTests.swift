import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// A campaign's progress against real PostgreSQL: links made through the store as the triggers
/// make them (as the service role, which cannot write the rollup itself), then moved to known days
/// by hand, so every number below is computed by hand.
@Suite("Campaign progress", .timeLimit(.minutes(3)))
struct CampaignProgressStoreTests {
    /// Today as a UTC day number; the days of the script count from it.
    static let today = Int((Date().timeIntervalSince1970 / 86_400).rounded(.down))
    static func day(_ number: Int) -> Date { Date(timeIntervalSince1970: Double(number) * 86_400) }
    /// Noon today: the `now` every progress below is computed at.
    static let now = day(today).addingTimeInterval(12 * 3_600)

    /// A campaign `spring` from `old` into `new`, created six days ago, and the service's view of
    /// the database (a login holding only `stableid_service`).
    struct World {
        let f: MapFixture
        let campaign: Campaign
        let service: Database
        /// The test's own login, the database owner: hand UPDATEs and reconciliation rows.
        let owner: PostgresConnection

        var map: IdentityMapStore { IdentityMapStore(database: service) }

        /// Links `name` (sub `testSub(name)`) to `person` through the store, then moves its
        /// `linked_at` to `second` seconds into day `day` by hand: the rollup follows the UPDATE.
        func link(
            _ name: String, to person: UUID, via: LinkPath, day: Int, second: Double = 36_000, pool: PoolID? = nil,
            campaign campaignID: UUID? = nil
        ) async throws {
            let pool = pool ?? f.new
            let identity = try NewIdentity(
                pool: pool, sub: testSub(name), username: name, via: via, campaignID: campaignID ?? campaign.id)
            _ = try await map.linkIdentity(identity, to: person, attribution: f.by).run(on: service)
            let at = CampaignProgressStoreTests.day(day).addingTimeInterval(second)
            try owner.execute("UPDATE identities SET linked_at = \(at) WHERE pool_id = \(pool.rawValue) AND sub = \(testSub(name))")
        }

        /// People with one identity each in the source pool.
        func people(_ names: [String]) async throws -> [String: UUID] {
            var people: [String: UUID] = [:]
            for name in names { people[name] = try await f.user(f.identity(f.old, name)).id }
            return people
        }

        func progress(level: Double = 0.01, windowDays: Int = 28) async throws -> CampaignProgress {
            try await CampaignProgressStore(database: service).progress(
                of: campaign, level: level, windowDays: windowDays, now: CampaignProgressStoreTests.now)
        }
    }

    static func world() async throws -> World {
        let f = try await MapFixture.make()
        let created = try await CampaignStore(database: f.db.database).create(
            NewCampaign(name: "spring", target: f.new, sources: [f.old]), attribution: f.by
        ).run(on: f.db.database)
        let owner = try f.db.connect()
        try owner.execute("UPDATE campaigns SET created_at = \(day(today - 6)) WHERE id = \(created.id)")
        let campaign = try #require(try await CampaignStore(database: f.db.database).campaign("spring"))
        let service = Database(primary: PostgresClient(configuration: .init(conninfo: try f.db.serviceRoleURL(), maxConnections: 4)))
        return World(f: f, campaign: campaign, service: service, owner: owner)
    }

    /// Every path, zero unless given.
    static func links(_ given: [LinkPath: Int]) -> [LinkPath: Int] {
        Dictionary(uniqueKeysWithValues: LinkPath.allCases.map { ($0, given[$0] ?? 0) })
    }

    @Test(
        "a scripted campaign: per day and path, cumulative, totals, remaining and the fit equal the hand-computed numbers; an unlink leaves its day"
    )
    func scripted() async throws {
        let w = try await Self.world()
        let t = Self.today
        let p = try await w.people((1...10).map { "p\($0)" })
        try await w.link("t1", to: p["p1"]!, via: .lazy, day: t - 5)
        try await w.link("t2", to: p["p2"]!, via: .lazy, day: t - 5, second: 0)
        try await w.link("t3", to: p["p3"]!, via: .forgotPassword, day: t - 5, second: 86_399.5)
        try await w.link("t4", to: p["p4"]!, via: .social, day: t - 3)
        try await w.link("t5", to: p["p5"]!, via: .import, day: t - 3)
        try await w.link("t6", to: p["p6"]!, via: .lazy, day: t - 2)
        try await w.link("t7", to: p["p7"]!, via: .invite, day: t - 1)
        try await w.link("t10", to: p["p10"]!, via: .passwordless, day: t - 1)
        // Not counted: a campaign identity in a source pool, a disabled target identity (p9 still
        // remains), and a new person in the target the campaign did not link (a sign-up).
        try await w.link("p8-again", to: p["p8"]!, via: .lazy, day: t - 2, pool: w.f.old)
        try await w.link("t9", to: p["p9"]!, via: .lazy, day: t - 2)
        try w.owner.execute("UPDATE identities SET status = 'disabled' WHERE sub = \(testSub("t9"))")
        _ = try await w.f.user(w.f.identity(w.f.new, "signed-up"))

        let progress = try await w.progress()
        #expect(progress.days.map(\.day) == (t - 6...t).map(Self.day), "every day from the campaign's creation through today")
        let expected: [[LinkPath: Int]] = [
            [:], [.lazy: 2, .forgotPassword: 1], [:], [.social: 1, .import: 1], [.lazy: 1], [.invite: 1, .passwordless: 1], [:],
        ]
        #expect(progress.days.map(\.links) == expected.map(Self.links))
        #expect(progress.days.map(\.cumulative) == [0, 3, 3, 5, 6, 8, 8])
        #expect(progress.days.map(\.total) == [0, 3, 0, 2, 1, 2, 0])
        #expect(
            progress.totals == Self.links([.lazy: 3, .forgotPassword: 1, .social: 1, .import: 1, .invite: 1, .passwordless: 1]))
        #expect(progress.migrated == 8 && progress.remaining == 2 && progress.remainingShare == 0.2)
        #expect(progress.remainingSource == .map && progress.reconciliationRun == nil && progress.remainingAsOf == Self.now)
        // Remaining at the end of each day = remaining now + the links made after it.
        let remainingByDay = zip(t - 6...t, [10, 7, 7, 5, 4, 2, 2]).map { (Self.day($0), $1) }
        #expect(
            progress.projection
                == ProgressProjection.fit(remainingByDay: remainingByDay, total: 10, level: 0.01, windowDays: 28, today: Self.now))
        #expect(progress.projection.pointsUsed == 7 && progress.projection.unavailable == nil)
        #expect(progress.projection.reachesLevelOn.map { $0 > Self.now } == true)

        // Unlinked: p6's link leaves T−2 (the curve is the links active now), and p6 remains again.
        _ = try await w.map.unlink(pool: w.f.new, sub: testSub("t6"), from: p["p6"]!, attribution: w.f.by).run(on: w.service)
        let after = try await w.progress()
        #expect(after.days[4].links == Self.links([:]))
        #expect(after.days.map(\.cumulative) == [0, 3, 3, 5, 5, 7, 7])
        #expect(after.migrated == 7 && after.remaining == 3 && after.totals[.lazy] == 2)

        // Bad arguments are refused before anything is read.
        await #expect(throws: MigrationError.self) { try await w.progress(level: 1) }
        await #expect(throws: MigrationError.self) { try await w.progress(level: 0) }
        await #expect(throws: MigrationError.self) { try await w.progress(windowDays: 6) }
        await #expect(throws: MigrationError.self) { try await w.progress(windowDays: 366) }
    }

    /// A reconciliation run row as `stableid reconcile` leaves one.
    static func recordRun(
        _ w: World, status: String, started: Date, finished: Date?, unmigrated: Int, campaign: UUID?
    ) throws -> UUID {
        let id = UUID()
        let scope = campaign.map { "campaign:\($0.uuidString.lowercased())" } ?? "pools:eu-west-1_New,us-east-1_Old"
        try w.owner.execute(
            """
            INSERT INTO reconcile_runs (id, scope, campaign_id, pools, source, actor, status, started_at, finished_at, counts)
            VALUES (\(id), \(scope), \(campaign), '{us-east-1_Old,eu-west-1_New}', 'live', 'test', \(status), \(started), \(finished),
                    jsonb_build_object('unmigrated', \(unmigrated)::int, 'unmapped', 0))
            """
        )
        return id
    }

    /// A finding as `stableid reconcile` leaves one: an unmigrated source user of the campaign.
    static func recordFinding(
        _ w: World, run: UUID, person: UUID, state: String, ackUntil: Date? = nil, acknowledgedAt: Date? = nil
    ) throws {
        let acknowledged = state == "acknowledged"
        try w.owner.execute(
            """
            INSERT INTO findings (kind, subject, scope, campaign_id, pool_id, sub, user_id, state, first_seen_run, last_seen_run,
                                  first_seen_at, last_seen_at, resolved_at, ack_by, ack_until, acknowledged_at)
            VALUES ('unmigrated', \("us-east-1_Old/" + person.uuidString), \("campaign:" + w.campaign.id.uuidString.lowercased()),
                    \(w.campaign.id), 'us-east-1_Old', \(person.uuidString.lowercased()), \(person), \(state), \(run), \(run),
                    now(), now(), \(state == "resolved" ? Date() : nil), \(acknowledged ? "ops" : nil), \(ackUntil),
                    \(acknowledged ? (acknowledgedAt ?? Date()) : nil))
            """
        )
    }

    @Test(
        "remaining: the map (merges followed) before any reconciliation; then the campaign's unmigrated findings still waiting, less the people linked since the run finished"
    )
    func remaining() async throws {
        let w = try await Self.world()
        let t = Self.today
        let p = try await w.people(["p1", "p2", "p3", "p4", "p5"])
        try await w.link("t1", to: p["p1"]!, via: .lazy, day: t - 3)
        try await w.link("t2", to: p["p2"]!, via: .lazy, day: t - 1)
        var progress = try await w.progress()
        #expect(progress.remaining == 3 && progress.remainingSource == .map, "p3, p4 and p5")
        // p4 turns out to be p1, who has moved: one person, with a target identity.
        _ = try await w.map.merge(p["p4"]!, into: p["p1"]!, attribution: w.f.by).run(on: w.service)
        progress = try await w.progress()
        #expect(progress.remaining == 2, "p3 and p5")

        let hour = 3_600.0
        _ = try Self.recordRun(
            w, status: "completed", started: Self.day(t - 5), finished: Self.day(t - 4), unmigrated: 40, campaign: w.campaign.id)
        let latest = try Self.recordRun(
            w, status: "completed", started: Self.day(t - 3).addingTimeInterval(hour),
            finished: Self.day(t - 2).addingTimeInterval(2 * hour), unmigrated: 5, campaign: w.campaign.id)
        // Newer, but not completed, or of no campaign: not the campaign's run.
        _ = try Self.recordRun(
            w, status: "failed", started: Self.day(t - 1), finished: Self.day(t - 1).addingTimeInterval(hour), unmigrated: 1,
            campaign: w.campaign.id)
        _ = try Self.recordRun(w, status: "running", started: Self.day(t), finished: nil, unmigrated: 1, campaign: w.campaign.id)
        _ = try Self.recordRun(w, status: "completed", started: Self.day(t), finished: Self.now, unmigrated: 0, campaign: nil)
        // What the latest run left open (its count, 5): p2, p3, p5 and two more; p1 moved while it
        // read the pools (its finding resolved). Since it finished: one of the two acknowledged
        // until next week (not waited for), the other acknowledged until yesterday (waited for again).
        try Self.recordFinding(w, run: latest, person: p["p1"]!, state: "resolved")
        for name in ["p2", "p3", "p5"] { try Self.recordFinding(w, run: latest, person: p[name]!, state: "open") }
        try Self.recordFinding(w, run: latest, person: UUID(), state: "acknowledged", ackUntil: Self.day(t + 7))
        try Self.recordFinding(w, run: latest, person: UUID(), state: "acknowledged", ackUntil: Self.day(t - 1))
        progress = try await w.progress()
        // Four waiting, less p2 (linked the day after the run finished).
        #expect(progress.remaining == 3 && progress.remainingSource == .reconciliation && progress.reconciliationRun == latest)
        #expect(progress.migrated == 2 && progress.remainingAsOf == Self.now)
        // A link since the run of someone who was not waiting (a sign-up's person) takes nobody off.
        let newcomer = try await w.people(["n1"])
        try await w.link("tn1", to: newcomer["n1"]!, via: .postConfirmation, day: t)
        progress = try await w.progress()
        #expect(progress.remaining == 3, "\(progress.remaining)")

        // An acknowledgement made before the run finished that ran out since: waited for again.
        try Self.recordFinding(
            w, run: latest, person: UUID(), state: "acknowledged", ackUntil: Self.day(t - 1), acknowledgedAt: Self.day(t - 3))
        progress = try await w.progress()
        #expect(progress.remaining == 4, "\(progress.remaining)")
        // A newer run that found nobody left.
        let last = try Self.recordRun(
            w, status: "completed", started: Self.day(t - 1), finished: Self.day(t - 1).addingTimeInterval(hour), unmigrated: 0,
            campaign: w.campaign.id)
        progress = try await w.progress()
        #expect(progress.remaining == 0 && progress.reconciliationRun == last)
        #expect(progress.projection.unavailable == .reached)
    }
}
