import Foundation
import IdentityMap
import Support
import Testing

@testable import LookupCache

/// A shard and the intern table its writer keeps, as `LookupCache.apply` drives them.
struct ShardHarness {
    var table = InternTable()
    var shard = IdentityShard(interns: InternSnapshot(InternTable()))

    @discardableResult
    mutating func store(_ resolution: Resolution) -> Int {
        let pool = table.intern(pool: resolution.identity.pool)
        table.intern(provider: resolution.identity.provider)
        if let campaign = resolution.identity.campaignID { table.intern(campaign: campaign) }
        shard.adopt(InternSnapshot(table))
        return shard.store(resolution, at: key(resolution.identity.pool, resolution.identity.sub))
    }

    @discardableResult
    mutating func remove(_ pool: PoolID, _ sub: String) -> Int {
        shard.remove(key(pool, sub))
    }

    func answer(_ pool: PoolID, _ sub: String) -> Resolution? {
        guard let code = table.pool(named: pool.rawValue) else { return nil }
        return shard.resolution(for: ShardKey(sub: UUIDBits(canonicalText: sub)!, pool: code), sub: sub)
    }

    func key(_ pool: PoolID, _ sub: String) -> ShardKey {
        ShardKey(sub: UUIDBits(canonicalText: sub)!, pool: table.pool(named: pool.rawValue)!)
    }
}

/// An answer shaped like one PostgreSQL gives (times with microseconds, as `timestamptz` keeps them).
func sampleResolution(
    pool: PoolID = PoolID("us-east-1_Old")!,
    sub: String = UUID().uuidString.lowercased(),
    user: UUID = UUID(),
    userStatus: UserStatus = .active,
    username: String = "alice",
    email: String? = "alice@example.com",
    emailVerified: Bool = true,
    provider: String = "Cognito",
    status: IdentityStatus = .active,
    linkedAt: String = "2026-11-27 09:38:53.123456+00",
    unlinkedAt: String? = nil,
    via: LinkPath? = .import,
    campaign: UUID? = nil
) -> Resolution {
    Resolution(
        userID: user,
        userStatus: userStatus,
        identity: Identity(
            pool: pool, sub: sub, username: username, email: email, emailVerified: emailVerified, provider: provider,
            status: status, linkedAt: RFC3339.parse(linkedAt)!, unlinkedAt: unlinkedAt.flatMap { RFC3339.parse($0) }, via: via,
            campaignID: campaign
        )
    )
}

@Suite("Compact entries: keys, flags and shards", .timeLimit(.minutes(2)))
struct CompactEntryTests {
    @Test("a canonical sub round-trips through 128 bits; every other spelling is refused, as PostgreSQL's text match would")
    func subBits() throws {
        for _ in 0..<200 {
            let uuid = UUID()
            let text = uuid.uuidString.lowercased()
            let bits = try #require(UUIDBits(canonicalText: text))
            #expect(bits.canonicalText == text)
            #expect(bits.uuid == uuid)
            #expect(UUIDBits(uuid) == bits)
            #expect(CognitoSub.canonical(text) == text)
        }
        let good = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
        #expect(UUIDBits(canonicalText: good) != nil)
        for bad in [
            good.uppercased(), String(good.dropLast()), good + "0", good.replacingOccurrences(of: "-", with: "_"),
            "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d", "{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4}", "ga1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4D", "", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3cé",
        ] {
            #expect(UUIDBits(canonicalText: bad) == nil, "\(bad)")
        }
        #expect(UUIDBits(high: 0, low: 0).canonicalText == "00000000-0000-0000-0000-000000000000")
        #expect(UUIDBits(high: .max, low: .max).canonicalText == "ffffffff-ffff-ffff-ffff-ffffffffffff")
    }

    @Test("every combination of statuses, verified flag, link path and unlinked time survives the 16-bit flags")
    func flags() throws {
        for userStatus in UserStatus.allCases {
            for identityStatus in IdentityStatus.allCases {
                for verified in [false, true] {
                    for via in [nil] + LinkPath.allCases.map(Optional.some) {
                        for unlinked in [false, true] {
                            let flags = try #require(
                                EntryFlags(
                                    userStatus: userStatus, identityStatus: identityStatus, emailVerified: verified, via: via,
                                    hasUnlinkedAt: unlinked
                                ))
                            #expect(flags.userStatus == userStatus)
                            #expect(flags.identityStatus == identityStatus)
                            #expect(flags.emailVerified == verified)
                            #expect(flags.via == via)
                            #expect(flags.hasUnlinkedAt == unlinked)
                        }
                    }
                }
            }
        }
    }

    @Test("an entry is 40 bytes and a key 24, the sizes the memory budget is computed from")
    func layout() {
        #expect(MemoryLayout<PackedIdentity>.stride == 40)
        #expect(MemoryLayout<ShardKey>.stride == 24)
    }

    @Test("what a shard returns equals what was stored, field for field, whatever the answer holds")
    func roundTrip() throws {
        let campaign = UUID()
        let other = PoolID("eu-west-1_New")!
        let cases: [Resolution] = [
            sampleResolution(),
            sampleResolution(email: nil, emailVerified: false, via: nil),
            sampleResolution(email: "", emailVerified: false),
            sampleResolution(pool: other, userStatus: .deleted, username: "Zoë 名前 🙂", email: "ZOË@例え.jp", provider: "Google"),
            sampleResolution(userStatus: .merged, status: .disabled, via: .forgotPassword, campaign: campaign),
            sampleResolution(status: .deleted, linkedAt: "1999-12-31 23:59:59.999999+00", unlinkedAt: "2026-01-02 03:04:05.000006+00"),
            sampleResolution(username: String(repeating: "u", count: 255), email: String(repeating: "e", count: 300) + "@x.io"),
            sampleResolution(username: "erased:42", email: nil, emailVerified: false, via: .postConfirmation),
        ]
        var harness = ShardHarness()
        for resolution in cases {
            let added = harness.store(resolution)
            #expect(added == 1)
        }
        #expect(harness.shard.count == cases.count)
        for resolution in cases {
            #expect(harness.answer(resolution.identity.pool, resolution.identity.sub) == resolution)
        }
        #expect(harness.answer(cases[0].identity.pool, UUID().uuidString.lowercased()) == nil)
        #expect(harness.answer(other, cases[0].identity.sub) == nil, "same sub, another pool: another identity")
    }

    @Test("replacing an answer keeps one entry; unchanged text is not copied again; removing frees the slot for reuse")
    func replaceAndRemove() throws {
        var harness = ShardHarness()
        let first = sampleResolution(username: "bob", email: "bob@example.com")
        harness.store(first)
        var moved = first
        moved.userID = UUID()
        moved.userStatus = .deleted
        let movedDelta = harness.store(moved)
        #expect(movedDelta == 0)
        #expect(harness.shard.textGarbage == 0, "same username and email: the arena is reused")
        #expect(harness.answer(first.identity.pool, first.identity.sub) == moved)
        var renamed = moved
        renamed.identity.username = "robert"
        renamed.identity.email = nil
        let renamedDelta = harness.store(renamed)
        #expect(renamedDelta == 0)
        #expect(harness.shard.textGarbage == "bob".utf8.count + "bob@example.com".utf8.count)
        #expect(harness.answer(first.identity.pool, first.identity.sub) == renamed)
        var unlinkedTimeGone = sampleResolution(unlinkedAt: "2026-01-01 00:00:00+00")
        harness.store(unlinkedTimeGone)
        unlinkedTimeGone.identity.unlinkedAt = nil
        harness.store(unlinkedTimeGone)
        #expect(harness.answer(unlinkedTimeGone.identity.pool, unlinkedTimeGone.identity.sub) == unlinkedTimeGone)

        let removed = harness.remove(first.identity.pool, first.identity.sub)
        let removedAgain = harness.remove(first.identity.pool, first.identity.sub)
        #expect(removed == -1)
        #expect(removedAgain == 0)
        #expect(harness.answer(first.identity.pool, first.identity.sub) == nil)
        let reused = sampleResolution(username: "carol")
        let reusedDelta = harness.store(reused)
        #expect(reusedDelta == 1)
        #expect(harness.shard.count == 2)
        #expect(harness.answer(reused.identity.pool, reused.identity.sub) == reused)
    }

    @Test("an answer that cannot be packed removes the old one instead of leaving it to be served")
    func uncacheable() throws {
        var harness = ShardHarness()
        let stored = sampleResolution()
        harness.store(stored)
        var huge = stored
        huge.identity.username = String(repeating: "x", count: 70_000)
        let hugeDelta = harness.store(huge)
        #expect(hugeDelta == -1)
        #expect(harness.answer(stored.identity.pool, stored.identity.sub) == nil)
        // A provider the shard's snapshot does not know (the writer interns before storing).
        harness.store(stored)
        var unknown = stored
        unknown.identity.provider = "NeverInterned"
        let key = harness.key(stored.identity.pool, stored.identity.sub)
        let unknownDelta = harness.shard.store(unknown, at: key)
        #expect(unknownDelta == -1)
        #expect(harness.answer(stored.identity.pool, stored.identity.sub) == nil)
    }

    @Test("churn rewrites the text arena once garbage outweighs live text, and every answer stays intact")
    func compaction() throws {
        var harness = ShardHarness()
        var answers: [Resolution] = (0..<2_000).map { sampleResolution(username: "user-\($0)", email: "user-\($0)@example.com") }
        for answer in answers { harness.store(answer) }
        var maxGarbage = 0
        for round in 0..<20 {
            for index in answers.indices {
                answers[index].identity.username = "user-\(index)-round-\(round)"
                harness.store(answers[index])
                maxGarbage = max(maxGarbage, harness.shard.textGarbage)
            }
        }
        let live = answers.reduce(0) { $0 + $1.identity.username.utf8.count + ($1.identity.email?.utf8.count ?? 0) }
        #expect(maxGarbage > 0)
        #expect(maxGarbage <= max(IdentityShard.compactionFloor, live / 2) + live / 10)
        for answer in answers {
            #expect(harness.answer(answer.identity.pool, answer.identity.sub) == answer)
        }
    }

    @Test("typical identities cost well under 250 bytes each, even without reserving capacity")
    func memoryBudget() throws {
        let count = 20_000
        func typical(_ index: Int) -> Resolution {
            // 20-byte usernames and 27-byte emails.
            sampleResolution(username: "user-\(100_000_000_000_000 + index)", email: "person\(10_000_000 + index)@example.com")
        }
        var grown = ShardHarness()
        for index in 0..<count { grown.store(typical(index)) }
        var reserved = ShardHarness()
        reserved.shard.reserveCapacity(entries: count + count / 16, textBytes: (count + count / 16) * 48)
        for index in 0..<count { reserved.store(typical(index)) }
        let grownPerEntry = grown.shard.reservedBytes / count
        let reservedPerEntry = reserved.shard.reservedBytes / count
        #expect(grownPerEntry <= 250, "\(grownPerEntry) bytes per identity")
        #expect(reservedPerEntry <= 200, "\(reservedPerEntry) bytes per identity")
    }
}
