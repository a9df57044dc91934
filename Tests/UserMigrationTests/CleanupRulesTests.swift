import Cognito
import Foundation
import IdentityMap
import Testing

@testable import UserMigration

/// What `campaign cleanup` does with one source user, decided without a database or Cognito: every
/// reason to leave a user alone, and the one case it acts on. And the sign-ins it relies on,
/// noted at most once an hour per identity.
@Suite("Campaign clean-up rules", .timeLimit(.minutes(2)))
struct CleanupRulesTests {
    static let pool = PoolID("eu-west-1_Source")!
    static let person = UUID(uuidString: "01937a2b-0000-7000-8000-00000000c1ea")!
    static let linked = Date(timeIntervalSince1970: 1_790_000_000)

    /// A user every rule lets through: signed in long enough ago, listed, no row.
    static func candidate(
        signedIn: Bool = true, longEnough: Bool = true, listed: Bool = true, row: CleanupRowState? = nil, rowMode: CleanupMode? = nil,
        rowUpdatedAt: Date? = nil, hold: FinalizeHold? = nil
    ) -> CleanupCandidate {
        CleanupCandidate(
            identity: 7, pool: pool, sub: "0b1c2d3e-0000-4000-8000-000000000001", username: "alice", person: person,
            targetLinkedAt: linked, firstSignIn: signedIn ? linked.addingTimeInterval(60) : nil, signedInLongEnough: longEnough,
            listed: listed, rowState: row, rowMode: rowMode, rowUpdatedAt: rowUpdatedAt, hold: hold
        )
    }

    /// The source user as AdminGetUser answers for a user untouched since its migration.
    static func source(
        enabled: Bool = true, modified: Date? = CleanupRulesTests.linked.addingTimeInterval(-86_400), sub: String? = nil
    ) -> CleanupSourceFacts {
        CleanupSourceFacts(sub: sub ?? "0B1C2D3E-0000-4000-8000-000000000001", enabled: enabled, lastModified: modified)
    }

    @Test("from the map: a row in progress or done, a duplicate or conflict, the member file, no sign-in, a recent one")
    func beforeReading() {
        let clean = Self.candidate()
        #expect(CleanupRules.beforeReading(clean, mode: .disable) == nil)
        #expect(CleanupRules.beforeReading(Self.candidate(row: .cleaning, rowMode: .disable), mode: .disable) == .inProgress)
        #expect(CleanupRules.beforeReading(Self.candidate(row: .done, rowMode: .disable), mode: .disable) == .alreadyGone)
        #expect(CleanupRules.beforeReading(Self.candidate(row: .done, rowMode: .delete), mode: .disable) == .alreadyGone)
        // A user this clean-up disabled may be deleted later; a failed row is tried again.
        #expect(CleanupRules.beforeReading(Self.candidate(row: .done, rowMode: .disable), mode: .delete) == nil)
        #expect(CleanupRules.beforeReading(Self.candidate(row: .failed, rowMode: .disable), mode: .disable) == nil)
        let duplicate = FinalizeHold(person: Self.person, reasons: ["conflict", "duplicate"], findings: [3, 4])
        #expect(CleanupRules.beforeReading(Self.candidate(hold: duplicate), mode: .disable) == .flaggedDuplicate)
        let conflict = FinalizeHold(person: Self.person, reasons: ["conflict"], findings: [4])
        #expect(CleanupRules.beforeReading(Self.candidate(hold: conflict), mode: .delete) == .flaggedConflict)
        #expect(CleanupRules.beforeReading(Self.candidate(listed: false), mode: .disable) == .outsideSubset)
        #expect(CleanupRules.beforeReading(Self.candidate(signedIn: false), mode: .disable) == .notSignedInTarget)
        #expect(CleanupRules.beforeReading(Self.candidate(longEnough: false), mode: .disable) == .tooRecent)
    }

    @Test("from the pool: gone, its username another user's, already disabled, outside the subset, changed since the migration")
    func afterReading() {
        let clean = Self.candidate()
        #expect(CleanupRules.afterReading(Self.source(), candidate: clean, mode: .disable, inSubset: true) == nil)
        #expect(CleanupRules.afterReading(nil, candidate: clean, mode: .disable, inSubset: true) == .alreadyGone)
        let reused = Self.source(sub: "0b1c2d3e-0000-4000-8000-0000000000ff")
        #expect(CleanupRules.afterReading(reused, candidate: clean, mode: .delete, inSubset: true) == .alreadyGone)
        #expect(CleanupRules.afterReading(Self.source(enabled: false), candidate: clean, mode: .disable, inSubset: true) == .alreadyGone)
        #expect(CleanupRules.afterReading(Self.source(enabled: false), candidate: clean, mode: .delete, inSubset: true) == nil)
        #expect(CleanupRules.afterReading(Self.source(), candidate: clean, mode: .disable, inSubset: false) == .outsideSubset)
        let changed = Self.source(modified: Self.linked.addingTimeInterval(1))
        #expect(CleanupRules.afterReading(changed, candidate: clean, mode: .disable, inSubset: true) == .changedAfterMigration)
        #expect(
            CleanupRules.afterReading(Self.source(modified: nil), candidate: clean, mode: .disable, inSubset: true)
                == .changedAfterMigration)
        #expect(CleanupRules.afterReading(Self.source(modified: Self.linked), candidate: clean, mode: .disable, inSubset: true) == nil)
    }

    @Test("deleting a user this clean-up disabled: its disabling is no change a person must look at, a later one is")
    func disabledThenDeleted() {
        let disabledAt = Self.linked.addingTimeInterval(40 * 86_400)
        let done = Self.candidate(row: .done, rowMode: .disable, rowUpdatedAt: disabledAt)
        #expect(done.changesCountSince == disabledAt)
        let byTheDisable = Self.source(enabled: false, modified: disabledAt.addingTimeInterval(-1))
        #expect(CleanupRules.afterReading(byTheDisable, candidate: done, mode: .delete, inSubset: true) == nil)
        let later = Self.source(enabled: false, modified: disabledAt.addingTimeInterval(60))
        #expect(CleanupRules.afterReading(later, candidate: done, mode: .delete, inSubset: true) == .changedAfterMigration)
        // Someone else's disable (no row of ours) counts as a change.
        #expect(Self.candidate().changesCountSince == Self.linked)
    }

    @Test(
        "right before the call: the user as the map has them now, by the same rules — a finding opened, an unlink, another person or username, a row taken meanwhile"
    )
    func recheck() {
        let planned = Self.candidate()
        let source = Self.source()
        #expect(CleanupRules.recheck(planned, planned: planned, source: source, mode: .delete, inSubset: true) == nil)
        // A duplicate or conflict opened since the page was read.
        let duplicate = FinalizeHold(person: Self.person, reasons: ["duplicate"], findings: [9])
        #expect(
            CleanupRules.recheck(Self.candidate(hold: duplicate), planned: planned, source: source, mode: .delete, inSubset: true)
                == .flaggedDuplicate)
        let conflict = FinalizeHold(person: Self.person, reasons: ["conflict"], findings: [10])
        #expect(
            CleanupRules.recheck(Self.candidate(hold: conflict), planned: planned, source: source, mode: .disable, inSubset: true)
                == .flaggedConflict)
        // The query no longer finds the identity: unlinked, its target identity gone, the person no longer active.
        #expect(CleanupRules.recheck(nil, planned: planned, source: source, mode: .delete, inSubset: true) == .changedDuringRun)
        // Merged into another person, or erased (its username replaced).
        var moved = planned
        moved.person = UUID(uuidString: "01937a2b-0000-7000-8000-00000000beef")!
        #expect(CleanupRules.recheck(moved, planned: planned, source: source, mode: .delete, inSubset: true) == .changedDuringRun)
        var erased = planned
        erased.username = "erased:7"
        #expect(CleanupRules.recheck(erased, planned: planned, source: source, mode: .delete, inSubset: true) == .changedDuringRun)
        // Another run took the row; the rules on the source user still apply to the current facts.
        let taken = Self.candidate(row: .cleaning, rowMode: .delete)
        #expect(CleanupRules.recheck(taken, planned: planned, source: source, mode: .delete, inSubset: true) == .inProgress)
        // The target identity it is judged by now was linked before the source user last changed.
        var relinked = planned
        relinked.targetLinkedAt = Self.linked.addingTimeInterval(-2 * 86_400)
        #expect(CleanupRules.recheck(relinked, planned: planned, source: source, mode: .delete, inSubset: true) == .changedAfterMigration)
    }

    @Test("the identity status each mode leaves, and the statuses it may leave")
    func modes() {
        #expect(CleanupMode.disable.identityStatus == .disabled && CleanupMode.delete.identityStatus == .deleted)
        #expect(CleanupMode.disable.fromStatuses == [.active] && CleanupMode.delete.fromStatuses == [.active, .disabled])
    }

    @Test("sign-ins from memory: noted once an hour per identity, drained, restored after a failed write")
    func signInLog() {
        let log = SignInLog()
        let start = ContinuousClock.now
        #expect(log.note(pool: Self.pool, sub: "a", at: start))
        #expect(!log.note(pool: Self.pool, sub: "a", at: start + .seconds(3_599)))
        #expect(log.note(pool: Self.pool, sub: "b", at: start + .seconds(1)))
        #expect(log.drain() == [SignInLog.Entry(pool: Self.pool, sub: "a"), SignInLog.Entry(pool: Self.pool, sub: "b")])
        #expect(log.drain().isEmpty)
        #expect(log.note(pool: Self.pool, sub: "a", at: start + .seconds(3_600)), "an hour later, again")
        let failed = log.drain()
        log.restore(failed)
        #expect(log.drain() == failed)
    }

    @Test("a Cognito refusal of one user (4xx, no throttling) fails that user; throttling, 5xx and transport errors stop the run")
    func refusals() {
        #expect(SourceCleanup.refusedOutright(.service(.other("AccessDeniedException"), message: "no", status: 400)))
        #expect(SourceCleanup.refusedOutright(.service(.invalidParameter, message: "no", status: 400)))
        #expect(!SourceCleanup.refusedOutright(.service(.tooManyRequests, message: "slow down", status: 400)))
        #expect(!SourceCleanup.refusedOutright(.service(.internalError, message: "oops", status: 500)))
    }
}
