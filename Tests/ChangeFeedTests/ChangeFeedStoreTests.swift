import AuditTrail
import Foundation
import IdentityMap
import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

@testable import ChangeFeed

/// The feed against a real PostgreSQL: sql/0022's triggers, the store's reads, pruning and the
/// notifier.
@Suite("Change feed (sql/0022)", .timeLimit(.minutes(3)))
struct ChangeFeedStoreTests {
    /// Appends one event of `kind` about `sub` in its own transaction, as the service's writes do.
    @discardableResult
    static func append(
        _ f: MapFixture, _ kind: EventKind, user: UUID = UUID(), sub: String, details: [String: JSONValue] = [:]
    ) async throws -> Int64 {
        let draft = EventDraft(kind: kind, userID: user, poolID: f.old.rawValue, sub: sub, details: details)
        return try await f.db.database.primary.transaction { connection in
            try EventLog.append(draft, attribution: f.by, on: connection)
        }
    }

    @Test("the trigger publishes exactly the kinds ChangeDerivation reads (one list in SQL, one in Swift, held equal)")
    func triggerKinds() async throws {
        let f = try await MapFixture.make()
        let store = ChangeFeedStore(database: f.db.database)
        let start = try await store.end()
        let known: [EventKind] = [
            .userCreated, .userMerged, .userUnmerged, .identityLinked, .identityUnlinked, .identityStatusChanged, .identityRefreshed,
            .poolAdded, .tokenCreated, .tokenRevoked, .importCompleted, .personalDataErased, .campaignCreated, .campaignPhaseChanged,
            .migrationSucceeded, .migrationFailed, .migrationRefusalsCounted, .campaignTargetFactsChanged, .campaignFinalizeExported,
            .campaignFinalizeCompleted, EventKind(rawValue: "finding_opened"), EventKind(rawValue: "finding_resolved"),
        ]
        // All in one transaction: one publication, in event-id order.
        let drafts = known.map { EventDraft(kind: $0, userID: UUID(), poolID: f.old.rawValue, sub: testSub($0.rawValue)) }
        let ids = try await f.db.database.primary.transaction { connection in
            try drafts.map { try EventLog.append($0, attribution: f.by, on: connection) }
        }
        let published = try f.db.rows(
            "SELECT e.id, e.kind FROM change_feed f JOIN events e ON e.id = f.event_id WHERE f.id > \(start.position) ORDER BY f.id"
        ).map { (id: try $0.decode("id", as: Int64.self), kind: try $0.decode("kind", as: String.self)) }
        #expect(Set(published.map(\.kind)) == Set(ChangeDerivation.sourceKinds.map(\.rawValue)))
        #expect(published.count == ChangeDerivation.sourceKinds.count)
        #expect(published.map(\.id) == ids.filter { id in published.contains { $0.id == id } }, "in event-id order")
        #expect(try f.db.count("change_feed_pending") == 0, "the queue is emptied at COMMIT")
        #expect(try f.db.count("change_feed_commit") == 0)
        // A rolled-back transaction publishes nothing.
        let before = try f.db.count("change_feed")
        await #expect(throws: (any Error).self) {
            try await f.db.database.primary.transaction { connection in
                _ = try EventLog.append(
                    EventDraft(kind: .identityLinked, userID: UUID(), poolID: f.old.rawValue, sub: testSub("rolled-back")),
                    attribution: f.by, on: connection)
                try connection.execute("SELECT 1/0")
            }
        }
        #expect(try f.db.count("change_feed") == before)
    }

    @Test("the order is the commit order: a transaction that began second and commits first comes first")
    func commitOrder() async throws {
        let f = try await MapFixture.make()
        let store = ChangeFeedStore(database: f.db.database)
        let start = try await store.end()
        let first = try f.db.connect(), second = try f.db.connect()
        try first.execute("BEGIN")
        let early = try EventLog.append(
            EventDraft(kind: .identityUnlinked, userID: UUID(), poolID: f.old.rawValue, sub: testSub("early")), attribution: f.by,
            on: first)
        try second.execute("BEGIN")
        let late = try EventLog.append(
            EventDraft(kind: .identityUnlinked, userID: UUID(), poolID: f.old.rawValue, sub: testSub("late")), attribution: f.by,
            on: second)
        #expect(early < late, "the events' own ids follow the statements")
        try second.execute("COMMIT")
        // Committed: the second is readable while the first is still open.
        #expect(try await store.page(after: start, limit: 10).changes.map(\.eventID) == [late])
        try first.execute("COMMIT")
        let page = try await store.page(after: start, limit: 10)
        try #require(page.changes.map(\.eventID) == [late, early])
        #expect(page.changes.map(\.position) == page.changes.map(\.position).sorted())
        #expect(page.next == page.changes.last?.cursor && !page.hasMore)
        // Resuming from the first change's cursor gives the rest, and from the last, nothing.
        #expect(try await store.page(after: page.changes[0].cursor, limit: 10).changes.map(\.eventID) == [early])
        #expect(try await store.page(after: page.next, limit: 10).changes.isEmpty)
    }

    @Test(
        "positions are taken one publishing commit at a time: a publish waits for one that took its positions and has not committed"
    )
    func publishesInCommitOrder() async throws {
        let f = try await MapFixture.make()
        let store = ChangeFeedStore(database: f.db.database)
        let start = try await store.end()
        // A large import publishing: its positions taken (the deferred trigger fired early, as
        // at COMMIT), the commit itself not done yet.
        let importing = try f.db.connect()
        try importing.execute("BEGIN")
        let imported = try EventLog.append(
            EventDraft(kind: .identityLinked, userID: UUID(), poolID: f.old.rawValue, sub: testSub("import")), attribution: f.by,
            on: importing)
        try importing.execute("SET CONSTRAINTS ALL IMMEDIATE")
        // A small link commits meanwhile: it must not take a position after the import's and
        // become visible first (readers would give up on the import's positions as a hole).
        let committed = Atomic<Bool>(false)
        let small = Task {
            let id = try await Self.append(f, .identityLinked, sub: testSub("small"))
            committed.store(true, ordering: .sequentiallyConsistent)
            return id
        }
        try await Task.sleep(for: .milliseconds(400))
        // Its commit waits (a reader would also hold it back behind the import's open positions,
        // for a while: the wait itself is what keeps the positions in commit order).
        let early = committed.load(ordering: .sequentiallyConsistent)
        #expect(!early, "the small link commits only after the import")
        #expect(try await store.page(after: start, limit: 10).changes.isEmpty, "the small link waits for the import's commit")
        try importing.execute("COMMIT")
        let linked = try await small.value
        let page = try await store.page(after: start, limit: 10)
        #expect(page.changes.map(\.eventID) == [imported, linked], "\(page.changes.map(\.eventID))")
    }

    @Test("a hole in the positions holds the rows after it back until its row commits, or until it is maxGapAge old")
    func holes() async throws {
        let f = try await MapFixture.make()
        let store = ChangeFeedStore(database: f.db.database, gapRule: GapRule(maxGapAge: .seconds(5)))
        let start = try await store.end()
        let owner = try f.db.connect()

        // A position taken by a transaction that has not committed yet (what a commit in flight
        // looks like to a reader), then a change committed after it.
        let first = try await Self.append(f, .identityUnlinked, sub: testSub("hole-1"))
        let slow = try f.db.connect()
        try slow.execute("BEGIN")
        try slow.execute("INSERT INTO change_feed (event_id) VALUES (\(first))")
        let second = try await Self.append(f, .identityUnlinked, sub: testSub("hole-2"))
        let held = try await store.page(after: start, limit: 10)
        #expect(held.changes.map(\.eventID) == [first], "only the change before the hole: \(held.changes.map(\.eventID))")
        #expect(held.retryAt != nil && !held.hasMore)
        try slow.execute("COMMIT")
        let filled = try await store.page(after: start, limit: 10)
        #expect(filled.changes.map(\.eventID) == [first, first, second], "the late row in its place, nothing skipped")

        // A position taken and never published (a commit that failed after its trigger): the
        // change after it waits, then comes once the hole is old enough.
        let mark = filled.next
        _ = try owner.query("SELECT nextval('change_feed_id_seq')")
        let third = try await Self.append(f, .identityUnlinked, sub: testSub("hole-3"))
        let waiting = try await store.page(after: mark, limit: 10)
        #expect(waiting.changes.isEmpty && waiting.next == mark && waiting.retryAt != nil)
        #expect(try await store.end() == mark, "a new consumer starts before the hole, not after the change behind it")
        let given = try await waitUntil(within: .seconds(20), every: .milliseconds(100)) {
            try await store.page(after: mark, limit: 10).changes.map(\.eventID) == [third]
        }
        #expect(given, "the hole was never given up")
        #expect(try await store.end() > mark)
    }

    @Test("every kind with the stable IDs and identities it names, read from the service's own writes")
    func kinds() async throws {
        let f = try await MapFixture.make()
        let store = ChangeFeedStore(database: f.db.database)
        let start = try await store.end()
        let alice = try await f.user(try f.identity(f.old, "k-a", username: "alice-secret", email: "alice@example.com"))
        let bob = try await f.user(try f.identity(f.new, "k-b", username: "bob-secret", email: "bob@example.com"))
        _ = try await f.map.unlink(pool: f.old, sub: testSub("k-a"), from: alice.id, attribution: f.by).run(on: f.db.database)
        _ = try await f.map.link(try f.identity(f.old, "k-a", username: "alice-secret"), to: bob.id, attribution: f.by).run(
            on: f.db.database)
        _ = try await f.map.merge(alice.id, into: bob.id, attribution: f.by).run(on: f.db.database)
        _ = try await f.map.unmerge(alice.id, from: bob.id, attribution: f.by).run(on: f.db.database)
        for (from, to) in [(IdentityStatus.active, IdentityStatus.disabled), (.disabled, .active), (.active, .deleted)] {
            let details = IdentityStatusChangedDetails(from: from, to: to, reason: "test")
            try await f.db.database.primary.transaction { connection in
                _ = try EventLog.append(
                    EventDraft(details, userID: bob.id, pool: f.new, sub: testSub("k-b")), attribution: f.by, on: connection)
            }
        }
        _ = try await Erasure(database: f.db.database).forget(userID: bob.id, attribution: f.by)

        let changes = try await store.page(after: start, limit: 100).changes
        #expect(
            changes.map(\.kind) == [
                .identityLinked, .identityLinked, .identityUnlinked, .identityMoved, .userMerged, .userUnmerged, .identityDisabled,
                .identityEnabled, .identityDeleted, .userErased,
            ])
        guard changes.count == 10 else { return }
        let aKey = IdentityKey(pool: f.old, sub: testSub("k-a")), bKey = IdentityKey(pool: f.new, sub: testSub("k-b"))
        #expect(changes[0].userID == alice.id && changes[0].identity == aKey)
        #expect(changes[1].userID == bob.id && changes[1].identity == bKey)
        #expect(changes[2].userID == alice.id && changes[2].identity == aKey)
        #expect(changes[3].userID == bob.id && changes[3].fromUserID == alice.id && changes[3].toUserID == bob.id)
        // Alice, with nothing linked any more, merged into Bob, then restored.
        #expect(changes[4].userID == bob.id && changes[4].fromUserID == alice.id && changes[4].mergedUserIDs == [alice.id])
        #expect(changes[5].userID == alice.id && changes[5].fromUserID == bob.id && changes[5].restoredUserIDs == [alice.id])
        #expect(changes[6...8].allSatisfy { $0.userID == bob.id && $0.identity == bKey })
        #expect(changes[9].userID == bob.id && changes[9].erasedUserIDs == [bob.id])
        #expect(changes.map(\.position) == changes.map(\.position).sorted())
        #expect(Set(changes.map(\.eventID)).count == 10)
    }

    @Test("pruning removes what is past the retention and moves the horizon: a cursor below it is refused, one at the end is not")
    func pruning() async throws {
        let f = try await MapFixture.make()
        let store = ChangeFeedStore(database: f.db.database)
        let start = try await store.end()
        for n in 0..<5 { try await Self.append(f, .identityUnlinked, sub: testSub("p\(n)")) }
        let end = try await store.page(after: start, limit: 100).next
        #expect(try await ChangeFeedLog.prune(olderThan: .seconds(3_600), on: f.db.database) == 0, "nothing is an hour old")
        #expect(try await store.page(after: start, limit: 100).changes.count == 5)
        // Everything published before now is past a zero retention; two rows a batch.
        #expect(try await ChangeFeedLog.prune(olderThan: .zero, batch: 2, on: f.db.database) >= 5)
        await #expect(throws: ChangeFeedError.self) { try await store.page(after: start, limit: 10) }
        #expect(try await store.page(after: end, limit: 10).changes.isEmpty)
        #expect(try await store.end().position == end.position, "the end after pruning everything is the horizon (no row left to check)")
        // Past the end of this database's feed: from elsewhere.
        do {
            _ = try await store.page(after: FeedCursor(position: end.position + 1_000), limit: 10)
            Issue.record("a cursor past the end was followed")
        } catch let error as ChangeFeedError {
            #expect(error == .cursorAhead(logEnd: end.position))
        }
        // New changes after a prune are read from the end as usual.
        let later = try await Self.append(f, .identityUnlinked, sub: testSub("after-prune"))
        #expect(try await store.page(after: end, limit: 10).changes.map(\.eventID) == [later])
    }

    @Test("a cursor whose position a failover gave to another change is refused (cursorDiverged); one the standby kept reads on")
    func failoverDivergence() async throws {
        let f = try await MapFixture.make()
        let store = ChangeFeedStore(database: f.db.database)
        let start = try await store.end()
        for name in ["kept-1", "kept-2", "lost-1", "lost-2"] { try await Self.append(f, .identityLinked, sub: testSub(name)) }
        let read = try await store.page(after: start, limit: 10).changes
        try #require(read.count == 4)
        let kept = read[1].cursor, lost = read[3].cursor
        #expect(kept.check != nil && kept.text.count == 18)
        // An asynchronous standby promoted before the last two commits reached it: they are gone,
        // and the new primary hands their positions to other changes.
        _ = try f.db.rows("DELETE FROM change_feed WHERE id > \(kept.position)")
        _ = try f.db.rows("SELECT setval('change_feed_id_seq', \(kept.position))")
        for name in ["new-1", "new-2", "new-3"] { try await Self.append(f, .identityLinked, sub: testSub(name)) }
        // The consumer that read the lost changes is told to re-sync, never handed the page past them.
        await #expect(throws: ChangeFeedError.cursorDiverged(position: lost.position)) {
            _ = try await store.page(after: lost, limit: 10)
        }
        // One that stopped at a change the standby had goes on, and gets the new changes.
        let after = try await store.page(after: kept, limit: 10).changes
        #expect(after.map(\.identity?.sub) == ["new-1", "new-2", "new-3"].map { testSub($0) })
        // A position-only cursor (version 1, written before checks) is followed unchecked.
        #expect(try await store.page(after: FeedCursor(position: lost.position), limit: 10).changes.count == 1)
        // The end and each page's next name their row's check: following them never diverges.
        let end = try await store.end()
        #expect(end.check != nil && end.position == after.last?.position)
        #expect(try await store.page(after: end, limit: 10).next == end)
        // The promoted server may also skip the lost positions (sequences are logged ahead): a
        // checked cursor at a position that now holds nothing is refused the same way.
        let skipped = after
        _ = try f.db.rows("DELETE FROM change_feed WHERE id = \(skipped[0].position)")
        await #expect(throws: ChangeFeedError.cursorDiverged(position: skipped[0].position)) {
            _ = try await store.page(after: skipped[0].cursor, limit: 10)
        }
    }

    @Test("the service role can publish, read and prune the feed")
    func serviceRole() async throws {
        let f = try await MapFixture.make()
        let url = f.db.url + (f.db.url.contains("?") ? "&" : "?") + "options=-c%20role%3Dstableid_service"
        let service = Database(primary: PostgresClient(configuration: .init(conninfo: url, maxConnections: 2)))
        defer { service.shutdown() }
        let store = ChangeFeedStore(database: service)
        let start = try await store.end()
        _ = try await IdentityMapStore(database: service).createUser(
            identities: [try f.identity(f.old, "svc", email: "svc@example.com")], attribution: f.by
        ).run(on: service)
        #expect(try await store.page(after: start, limit: 10).changes.map(\.kind) == [.identityLinked])
        #expect(try await ChangeFeedLog.prune(olderThan: .zero, on: service) == 1)
    }

    @Test("one NOTIFY per publishing commit wakes a waiter at once; nothing else does")
    func notifier() async throws {
        let f = try await MapFixture.make()
        var logger = Logger(label: "test.changes")
        logger.logLevel = .critical
        // Polling so slow that only a NOTIFY can end a wait within the test.
        let notifier = ChangeNotifier(conninfo: f.db.url, logger: logger, pollInterval: .seconds(60))
        let running = Task { await notifier.run() }
        defer { running.cancel() }
        #expect(try await waitUntil(within: .seconds(30)) { notifier.isListening }, "the notifier never listened")

        // A commit that publishes nothing (a pool's event is no change) does not wake it.
        let quietGeneration = notifier.generation
        _ = try await f.pools.add(id: PoolID("ap-south-1_Quiet")!, attribution: f.by).run(on: f.db.database)
        let quiet = ContinuousClock.now
        await notifier.wait(since: quietGeneration, until: .now + .milliseconds(700))
        #expect(ContinuousClock.now - quiet >= .milliseconds(650), "woken without a change")

        let generation = notifier.generation
        let waiter = Task {
            let began = ContinuousClock.now
            await notifier.wait(since: generation, until: .now + .seconds(30))
            return ContinuousClock.now - began
        }
        try await Task.sleep(for: .milliseconds(200))
        let committed = ContinuousClock.now
        try await Self.append(f, .identityUnlinked, sub: testSub("wake"))
        let waited = await waiter.value
        #expect(waited < .seconds(5), "the wait lasted \(waited)")
        // Polling is 60 s, so only the NOTIFY can explain a wake-up this early, even on a loaded
        // two-core CI machine running the suite in parallel.
        #expect(ContinuousClock.now - committed < .seconds(5), "woken \(ContinuousClock.now - committed) after the commit")
        #expect(notifier.generation != generation)
        // A waiter that comes after the commit, with the generation it read before, returns at once.
        let stale = ContinuousClock.now
        await notifier.wait(since: generation, until: .now + .seconds(30))
        #expect(ContinuousClock.now - stale < .seconds(5))
    }
}
