import Foundation
import IdentityMap
import Testing
import UserMigration

/// Sign-ins of unknown usernames become at most one event per campaign and minute.
@Suite("Migration refusal tally", .timeLimit(.minutes(2)))
struct MigrationRefusalTallyTests {
    let campaign = UUID()
    let other = UUID()
    let pool = PoolID("us-east-1_Target")!

    @Test("the first refusal is written at once, the rest of its minute wait and are written together after it")
    func window() {
        let tally = MigrationRefusalTally()
        let start = ContinuousClock.now
        let first = tally.add(campaign: campaign, target: pool, reason: "user_not_found", at: start)
        #expect(first?.counts == ["user_not_found": 1])
        for second in 1...59 {
            #expect(tally.add(campaign: campaign, target: pool, reason: "user_not_found", at: start + .seconds(second)) == nil)
        }
        #expect(tally.drainDue(at: start + .seconds(59)).isEmpty)
        // Another campaign has a window of its own.
        #expect(tally.add(campaign: other, target: pool, reason: "user_not_found", at: start + .seconds(30)) != nil)
        let due = tally.drainDue(at: start + .seconds(60))
        #expect(due.count == 1 && due.first?.campaign == campaign && due.first?.counts == ["user_not_found": 59])
        #expect(tally.drainDue(at: start + .seconds(200)).isEmpty, "nothing left to write")
    }

    @Test("at shutdown everything still counted is written, whatever the window")
    func drainAll() {
        let tally = MigrationRefusalTally()
        let start = ContinuousClock.now
        _ = tally.add(campaign: campaign, target: pool, reason: "user_not_found", at: start)
        _ = tally.add(campaign: campaign, target: pool, reason: "user_not_found", at: start + .seconds(1))
        _ = tally.add(campaign: campaign, target: pool, reason: "outside_subset", at: start + .seconds(2))
        let left = tally.drainAll()
        #expect(left.count == 1 && left.first?.counts == ["user_not_found": 1, "outside_subset": 1])
        #expect(tally.drainAll().isEmpty)
    }

    @Test("a batch that could not be written goes back and is written with the next")
    func restore() {
        let tally = MigrationRefusalTally()
        let start = ContinuousClock.now
        let lost = tally.add(campaign: campaign, target: pool, reason: "user_not_found", at: start)
        tally.restore([lost!])
        _ = tally.add(campaign: campaign, target: pool, reason: "user_not_found", at: start + .seconds(5))
        let due = tally.drainDue(at: start + .seconds(61))
        #expect(due.count == 1 && due.first?.counts == ["user_not_found": 2])
    }
}
