import Foundation
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// The rollup of sql/0016 against its definition: after random links, unlinks, relinks, merges,
/// path changes, hand UPDATEs (one row and set-wise), bulk INSERT … SELECT, DELETEs and concurrent
/// links, the sum of its slots equals a GROUP BY over `identities`, row for row.
@Suite("Campaign rollup, differential", .timeLimit(.minutes(3)))
struct CampaignRollupDifferentialTests {
    /// A small seeded generator, so a failure names a sequence that can be replayed.
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    /// Rows on which the rollup (slots summed) and the definition disagree, both ways.
    static func differences(_ db: TestDatabase) throws -> Int {
        try db.rows(
            """
            WITH rollup AS (
                SELECT campaign_id, day, via, sum(links)::bigint AS links FROM campaign_daily_links
                GROUP BY campaign_id, day, via HAVING sum(links) <> 0
            ), truth AS (
                SELECT i.campaign_id, (i.linked_at AT TIME ZONE 'UTC')::date AS day, coalesce(i.via, 'manual') AS via,
                       count(*)::bigint AS links
                FROM identities i JOIN campaigns c ON c.id = i.campaign_id AND c.target_pool = i.pool_id
                WHERE i.status = 'active'
                GROUP BY 1, 2, 3
            )
            SELECT count(*) AS n FROM (
                (SELECT * FROM rollup EXCEPT SELECT * FROM truth) UNION ALL (SELECT * FROM truth EXCEPT SELECT * FROM rollup)
            ) d
            """
        )[0].decode("n")
    }

    /// Two campaigns out of `old`: A into `new`, B into a third pool. An identity of B's in `new`
    /// is in no campaign's target, so it never counts.
    struct World {
        let f: MapFixture
        let a: Campaign
        let b: Campaign
        let owner: PostgresConnection
        var people: [UUID] = []
        var targets: [(pool: PoolID, sub: String)] = []
        var made = 0
        var succeeded = 0

        mutating func fresh() -> Int {
            made += 1
            return made
        }
    }

    static func world() async throws -> World {
        let f = try await MapFixture.make()
        let third = PoolID("ap-south-1_Third")!
        _ = try await f.pools.add(id: third, attribution: f.by).run(on: f.db.database)
        let campaigns = CampaignStore(database: f.db.database)
        let a = try await campaigns.create(NewCampaign(name: "a", target: f.new, sources: [f.old]), attribution: f.by)
            .run(on: f.db.database)
        let b = try await campaigns.create(NewCampaign(name: "b", target: third, sources: [f.old]), attribution: f.by)
            .run(on: f.db.database)
        return World(f: f, a: a, b: b, owner: try f.db.connect())
    }

    @Test("random writes of every kind: the rollup always equals the GROUP BY it stands for")
    func randomWrites() async throws {
        var w = try await Self.world()
        let seed = UInt64(Date().timeIntervalSince1970 * 1000)
        var random = SplitMix64(state: seed)
        for _ in 0..<12 { try await Self.step(0, &w, &random) }  // people first
        for round in 1...200 {
            let kind = Int.random(in: 0...9, using: &random)
            do {
                try await Self.step(kind, &w, &random)
                w.succeeded += 1
            } catch is IdentityMapError {
                // Refused by the map's rules (already linked elsewhere, merged, …): still a write
                // that changed nothing, which the rollup must survive too.
            }
            if round % 20 == 0 {
                #expect(try Self.differences(w.f.db) == 0, "seed \(seed), after \(round) steps")
            }
        }
        #expect(w.succeeded > 100, "the writes ran (seed \(seed))")
        let counted: Int = try w.f.db.rows("SELECT coalesce(sum(links), 0)::bigint AS n FROM campaign_daily_links")[0].decode("n")
        #expect(counted > 0, "something was counted (seed \(seed))")
        // TRUNCATE empties the map, and the rollup with it.
        try w.owner.execute("TRUNCATE identities CASCADE")
        #expect(try w.f.db.count("campaign_daily_links", where: "links <> 0") == 0)
    }

    /// One random write of `kind` (0 people, 1–2 links, 3 unlink, 4 relink, 5 merge, 6 a hand
    /// UPDATE of one row, 7 a set-wise UPDATE, 8 a bulk INSERT … SELECT, 9 a DELETE).
    static func step(_ kind: Int, _ w: inout World, _ random: inout SplitMix64) async throws {
        let (f, map) = (w.f, w.f.map)
        let paths = LinkPath.allCases
        let campaigns: [UUID?] = [w.a.id, w.a.id, w.b.id, nil]
        switch kind {
        case 0:
            let name = "src-\(w.fresh())"
            w.people.append(try await f.user(f.identity(f.old, name)).id)
        case 1, 2:
            let n = w.fresh()
            let pool = [f.new, f.new, w.b.target].randomElement(using: &random)!
            let identity = try NewIdentity(
                pool: pool, sub: testSub("tgt-\(n)"), username: "tgt-\(n)", via: paths.randomElement(using: &random)!,
                campaignID: campaigns.randomElement(using: &random)!)
            _ = try await map.linkIdentity(identity, to: w.people.randomElement(using: &random)!, attribution: f.by).run(on: f.db.database)
            w.targets.append((pool, identity.sub))
        case 3:
            guard let target = w.targets.randomElement(using: &random), let owner = try ownerOf(target, w) else { return }
            _ = try await map.unlink(pool: target.pool, sub: target.sub, from: owner, attribution: f.by).run(on: f.db.database)
        case 4:
            guard let target = w.targets.randomElement(using: &random) else { return }
            let identity = try NewIdentity(
                pool: target.pool, sub: target.sub, username: "re-\(w.fresh())", via: paths.randomElement(using: &random)!,
                campaignID: campaigns.randomElement(using: &random)!)
            _ = try await map.linkIdentity(identity, to: w.people.randomElement(using: &random)!, attribution: f.by).run(on: f.db.database)
        case 5:
            let (from, into) = (w.people.randomElement(using: &random)!, w.people.randomElement(using: &random)!)
            _ = try await map.merge(from, into: into, attribution: f.by).run(on: f.db.database)
        case 6:
            guard let target = w.targets.randomElement(using: &random) else { return }
            try handUpdate(target, w, &random)
        case 7:
            let third = Int.random(in: 0...2, using: &random)
            try w.owner.execute(
                "UPDATE identities SET linked_at = linked_at - interval '1 day' WHERE pool_id <> \(f.old.rawValue) AND id % 3 = \(third)")
        case 8:
            let n = w.fresh()
            try w.owner.execute(
                """
                INSERT INTO identities (user_id, pool_id, sub, username, via, campaign_id, linked_at)
                SELECT \(w.people.randomElement(using: &random)!)::uuid, \(f.new.rawValue)::text, gen_random_uuid()::text,
                       'bulk-' || \(n)::text || '-' || g, (ARRAY['import', 'invite', NULL])[1 + g % 3], \(w.a.id)::uuid,
                       now() - make_interval(days => g)
                FROM generate_series(1, 5) g
                """
            )
        default:
            guard let target = w.targets.randomElement(using: &random) else { return }
            try w.owner.execute("DELETE FROM identities WHERE pool_id = \(target.pool.rawValue) AND sub = \(target.sub)")
        }
    }

    static func ownerOf(_ target: (pool: PoolID, sub: String), _ w: World) throws -> UUID? {
        try w.f.db.rows("SELECT user_id FROM identities WHERE pool_id = \(target.pool.rawValue) AND sub = \(target.sub)").first?
            .decode("user_id")
    }

    /// What an operator might change by hand on one identity: its path (or none), its day, its
    /// campaign, its status, or its pool.
    static func handUpdate(_ target: (pool: PoolID, sub: String), _ w: World, _ random: inout SplitMix64) throws {
        let key: PostgresQuery = "pool_id = \(target.pool.rawValue) AND sub = \(target.sub)"
        switch Int.random(in: 0...4, using: &random) {
        case 0:
            let via = Bool.random(using: &random) ? LinkPath.allCases.randomElement(using: &random)!.rawValue : nil
            try w.owner.execute("UPDATE identities SET via = \(via) WHERE \(fragment: key)")
        case 1:
            let days = Int.random(in: 0...40, using: &random)
            try w.owner.execute("UPDATE identities SET linked_at = now() - make_interval(days => \(days)) WHERE \(fragment: key)")
        case 2:
            let campaign = [w.a.id, w.b.id, nil].randomElement(using: &random)!
            try w.owner.execute("UPDATE identities SET campaign_id = \(campaign) WHERE \(fragment: key)")
        case 3:
            let status = ["active", "disabled", "deleted", "unlinked"].randomElement(using: &random)!
            // (A username live under another sub refuses 'active': the map's own rule.)
            _ = try? w.owner.execute("UPDATE identities SET status = \(status) WHERE \(fragment: key)")
        default:
            // Into the other campaign's target, or back (the sub is unique enough for either pool).
            let pool = target.pool == w.f.new ? w.b.target : w.f.new
            _ = try? w.owner.execute("UPDATE identities SET pool_id = \(pool.rawValue) WHERE \(fragment: key)")
        }
    }

    @Test("concurrent links from several connections (other slots, one day) add up")
    func concurrentLinks() async throws {
        let w = try await Self.world()
        var people: [UUID] = []
        for index in 0..<8 { people.append(try await w.f.user(w.f.identity(w.f.old, "c-src-\(index)")).id) }
        let (f, a) = (w.f, w.a)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<4 {
                let person = people[worker]
                group.addTask {
                    for index in 0..<15 {
                        let identity = try NewIdentity(
                            pool: f.new, sub: testSub("c-\(worker)-\(index)"), username: "c-\(worker)-\(index)", via: .lazy,
                            campaignID: a.id)
                        _ = try await f.map.linkIdentity(identity, to: person, attribution: f.by).run(on: f.db.database)
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try Self.differences(w.f.db) == 0)
        let progress = try await CampaignProgressStore(database: w.f.db.database).progress(of: w.a)
        #expect(progress.migrated == 60 && progress.totals[.lazy] == 60)
        #expect(progress.days.last?.links[.lazy] == 60, "all linked today")
    }
}
