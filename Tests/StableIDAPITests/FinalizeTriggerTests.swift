import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// The Migrate-user trigger while a campaign is finalized: a person `campaign finalize` has invited
/// (or is inviting), or who has an account in the target already, is answered as an unknown user
/// would be, so Cognito never creates them a second account; the refusal is only counted.
@Suite("Migrate-user trigger during finalize", .timeLimit(.minutes(5)))
struct FinalizeTriggerTests {
    typealias World = TriggerFlowTests.World

    /// A `finalize_users` row for the source user `sub` (mapped with its sub as its ID).
    static func finalizeRow(_ w: World, sub: String, username: String, state: String) throws {
        try w.api.db.connect().execute(
            """
            INSERT INTO finalize_users (campaign_id, user_id, source_pool, source_sub, mode, state, target_username, target_sub)
            VALUES (\(w.campaign.id), \(sub)::uuid, \(w.old), \(sub), 'invite', \(state), \(username),
                    \(state == "created" ? testSub("target-" + username) : nil))
            """
        )
    }

    @Test("invited, being invited, or already in the target: not_authorized, counted as already_in_target; anyone else migrates")
    func invitedUsersAreNotMigratedAgain() async throws {
        let w = try await World.make()
        let invited = try await w.sourceUser("ivy", password: "Old-Passw0rd!", email: "ivy@example.com")
        let inviting = try await w.sourceUser("jon", password: "Old-Passw0rd!", email: "jon@example.com")
        let linked = try await w.sourceUser("kim", password: "Old-Passw0rd!", email: "kim@example.com")
        try await w.sourceUser("lea", password: "Old-Passw0rd!", email: "lea@example.com")
        try Self.finalizeRow(w, sub: invited, username: "ivy", state: "created")
        try Self.finalizeRow(w, sub: inviting, username: "jon", state: "creating")
        // kim is in the target already, under another username (the target signs in by email, say).
        _ = try await IdentityMapStore(database: w.api.db.database).link(
            try NewIdentity(pool: PoolID(w.new)!, sub: testSub("kim-target"), username: "kim-target", via: .invite),
            to: UUID(uuidString: linked)!, attribution: Attribution(actor: .system)
        ).run(on: w.api.db.database)
        try await w.api.test { client in
            for username in ["ivy", "jon", "kim"] {
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger,
                    json: TriggerFlowTests.migrationEvent(pool: w.new, username: username, password: "Old-Passw0rd!"))
                #expect(reply.status == 400 && reply.code == "not_authorized", "\(username): \(reply)")
            }
            let lea = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: TriggerFlowTests.migrationEvent(pool: w.new, username: "lea", password: "Old-Passw0rd!"))
            #expect(lea.status == 200, "\(lea)")
        }
        #expect(try w.api.db.count("events", where: "kind = 'migration_succeeded'") == 1, "lea alone")
        #expect(try w.api.db.count("pending_links") == 1, "lea's")
        #expect(try w.api.db.count("events", where: "kind = 'migration_failed'") == 0, "counted, not stored per person")
        // The first refusal of the campaign's minute is written at once; the others wait for the next window.
        #expect(
            try w.api.db.count(
                "events", where: "kind = 'migration_refusals_counted' AND (details->'counts'->>'already_in_target')::int = 1") == 1)
    }
}
