import Cognito
import CognitoIngest
import Foundation
import IdentityMap
import Logging
import Postgres
import TestSupport
import Testing

@testable import UserMigration

/// The clean-up's re-check, against moto: a run reads its users a page at a time, perhaps hours
/// before it reaches the last of them, so each is read again on the primary right before its
/// Cognito call. The command does both steps in one process; this drives them apart — the plan,
/// then a duplicate found by a reconciliation meanwhile, then the calls — as a long run meets it.
extension SubsetCampaignTests {
    @Test(
        "clean-up --apply: a planned user whose duplicate a reconciliation found after the plan was read is left in the pool, skipped and listed; the other planned users are deleted"
    )
    func recheckBeforeTheCall() async throws {
        let s = try await Self.plant()
        _ = try s.reconcile()
        var logger = Logger(label: "test.cleanup")
        logger.logLevel = .critical
        let by = Attribution(actor: .system)
        let cleanup = SourceCleanup(database: s.db.database, clients: PoolClients(), logger: logger, attribution: by)
        var options = SourceCleanup.Options(mode: .delete, dryRun: false)
        options.olderThan = 0

        // The plan: the campaign, then the page of candidates a run reads first.
        let plan = try await cleanup.prepare(s.campaign, options: options)
        let page = try await cleanup.store.candidates(
            campaign: plan.campaign, mode: .delete, olderThan: 0, .page(after: 0, limit: SourceCleanup.pageSize))
        let planned = Set(page.filter { CleanupRules.beforeReading($0, mode: .delete) == nil }.map(\.username))
        #expect(planned.isSuperset(of: ["de1", "fr1", "de5"]) && !planned.contains("de7"), "\(planned)")

        // Meanwhile someone signs up in the target with fr1's verified email, and the next
        // reconciliation opens the duplicate that holds her back (as de7's in `plant`).
        let again = try await s.client.createTestUser(
            poolID: s.target, username: "fr1-again",
            attributes: [AttributeType("email", "fr1@example.com"), AttributeType("email_verified", "true")])
        _ = try await IdentityMapStore(database: s.db.database).createUser(
            identities: [
                try NewIdentity(
                    pool: PoolID(s.target)!, sub: try #require(again.attribute("sub")), username: "fr1-again", email: "fr1@example.com",
                    emailVerified: true)
            ],
            attribution: by
        ).run(on: s.db.database)
        _ = try s.reconcile()
        #expect(try s.db.count("findings", where: "kind = 'duplicate' AND state = 'open'") == 2, "de7's and now fr1's")

        // Then the run works through the page it read before.
        var summary = CleanupSummary(campaign: plan.campaign.id, mode: .delete, dryRun: false, olderThan: 0)
        for candidate in page {
            summary.record(try await cleanup.clean(candidate, plan: plan, options: options, budget: FinalizeBudget(nil)))
        }
        let usernames = Dictionary(uniqueKeysWithValues: s.subs.map { ($0.value, $0.key) })
        #expect(Set(summary.users.compactMap { usernames[$0.sub] }) == ["de1", "de5"], "\(summary.json)")
        #expect(
            Dictionary(uniqueKeysWithValues: summary.skippedOnRecheck.map { (usernames[$0.user.sub] ?? $0.user.sub, $0.reason) })
                == ["fr1": .flaggedDuplicate], "\(summary.json)")
        #expect(summary.skipped[.flaggedDuplicate] == 2 && summary.skippedOnRecheckCount == 1, "de7 when planned, fr1 on the re-check")
        #expect(summary.json["skipped_on_recheck"]?.arrayValue?.first?["sub"]?.stringValue == s.subs["fr1"])
        #expect(try await s.sourceUser("fr1") != nil, "fr1 is still in the source pool")
        for username in ["de1", "de5"] { #expect(try await s.sourceUser(username) == nil, "\(username) is deleted") }
        // Nothing was written for her: no row, no status, no event.
        #expect(try s.db.count("cleanup_users", where: "sub = '\(s.subs["fr1"]!)'") == 0)
        #expect(try s.statuses()["fr1"] == "active")
        #expect(try s.cleanupEvents()[s.subs["fr1"]!] == nil)

        // The re-check's query for one identity: fr1 with her hold; de1, deleted now, no longer found.
        let identities = try s.db.rows(
            "SELECT username, id FROM identities WHERE pool_id = \(s.source) AND username = ANY(\(PostgresArray(["fr1", "de1"]))::text[])")
        var ids: [String: Int64] = [:]
        for row in identities {
            let username: String = try row.decode("username")
            ids[username] = try row.decode("id")
        }
        let fr1 = try await cleanup.store.candidates(
            campaign: plan.campaign, mode: .delete, olderThan: 0, .identity(try #require(ids["fr1"])))
        #expect(fr1.count == 1 && fr1.first?.hold?.reasons == ["duplicate"], "\(fr1)")
        let de1 = try await cleanup.store.candidates(
            campaign: plan.campaign, mode: .delete, olderThan: 0, .identity(try #require(ids["de1"])))
        #expect(de1.isEmpty)
    }
}
