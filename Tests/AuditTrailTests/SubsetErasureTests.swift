import AuditTrail
import CryptoPrimitives
import Foundation
import IdentityMap
import Postgres
import Support
import TestSupport
import Testing
import UserMigration

/// A subset campaign whose `--only` values are people's emails and usernames: its
/// `campaign_created` event records each condition's attribute, count and digest, never a value
/// (no erasure can reach an event's details), the values live in `campaign_subset_values`, and an
/// erasure of one of those people leaves no trace of her there or anywhere else.
@Suite("Subset campaigns and erasure", .timeLimit(.minutes(3)))
struct SubsetErasureTests {
    /// The lower-case hex SHA-256 of `text`: what an auditor computes over a file of the values.
    static func sha256(_ text: String) -> String { Hex.encode(SHA256.hash(text)) }

    @Test(
        "--only email=…: campaign_created holds each attribute's count and the SHA-256 of its sorted values, never a value; erasing one of the people leaves no trace of her email in a pg_dump, and the chain verifies"
    )
    func emailValues() async throws {
        let f = try await AuditFixture.make(users: 2)
        let by = Attribution(actor: .system)
        let source = PoolID("us-east-1_Audit")!
        let target = PoolID("eu-central-1_AuditEu")!
        _ = try await PoolStore(database: f.db.database).add(id: target, attribution: by).run(on: f.db.database)
        let zoe = try await IdentityMapStore(database: f.db.database).createUser(
            identities: [
                try NewIdentity(pool: source, sub: testSub("subset-zoe"), username: "zoe.subset", email: "Zoe.Subset@Example.com")
            ],
            attribution: by
        ).run(on: f.db.database)
        // As `campaign create --only` reads them: her email (in another case than her identity's)
        // and user1's, her username and someone else's, a country.
        var new = NewCampaign(name: "by-email", target: target, sources: [source])
        new.subsetConditions = try CampaignSubset.conditions(parsing: [
            "email=zoe.subset@example.com,user1@example.com", "preferred_username=zoe.subset,someone.else", "custom:country=DE",
        ])
        let campaign = try await CampaignStore(database: f.db.database).create(new, attribution: by).run(on: f.db.database)
        #expect(
            campaign.subset?.conditions.map(\.values) == [
                ["zoe.subset@example.com", "user1@example.com"], ["zoe.subset", "someone.else"], ["DE"],
            ])

        // The event: attribute, count and the digest of the values sorted by their bytes, one a
        // line, no newline at the end — computed here as an auditor would from a file.
        let created = try f.db.rows("SELECT id FROM events WHERE kind = 'campaign_created'")
        #expect(created.count == 1)
        let eventID: Int64 = try created[0].decode("id")
        let expected = """
            [{"attribute": "email", "count": 2, "sha256": "\(Self.sha256("user1@example.com\nzoe.subset@example.com"))"},
             {"attribute": "preferred_username", "count": 2, "sha256": "\(Self.sha256("someone.else\nzoe.subset"))"},
             {"attribute": "custom:country", "count": 1, "sha256": "\(Self.sha256("DE"))"}]
            """
        let whole = try Self.event(eventID, in: f.db)
        let matching = try f.db.rows(
            "SELECT count(*)::int AS n FROM events WHERE id = \(eventID) AND details->'subset'->'only' = \(expected)::jsonb")
        #expect(try matching[0].decode("n", as: Int.self) == 1, "\(whole)")
        // No value anywhere in the event — its row, its details, its personal data — nor in the campaign's row.
        for value in ["zoe.subset", "user1@example.com", "someone.else", "\"DE\""] {
            #expect(!whole.contains(value), "\(value) in \(whole)")
        }
        #expect(try f.db.count("campaigns", where: "subset::text LIKE '%@%' OR subset::text LIKE '%\"DE\"%'") == 0)
        #expect(try f.db.count("campaign_subset_values", where: "campaign_id = '\(campaign.id)'") == 5)

        _ = try await Erasure(database: f.db.database).forget(userID: zoe.id, attribution: by)
        while try await f.chain.seal() > 0 {}
        #expect(try await f.verify().problem == nil)
        let text = try AuditTrailTests.dataDump(f.db.url)
        #expect(!text.contains("zoe.subset"), "her email and username are nowhere")
        #expect(text.contains("someone.else"), "the other values are kept")
        // The campaign keeps the others' values; the event is as it was.
        let after = try #require(try await CampaignStore(database: f.db.database).campaign(campaign.id.uuidString))
        #expect(after.subset?.conditions.map(\.values) == [["user1@example.com"], ["someone.else"], ["DE"]])
        #expect(try Self.event(eventID, in: f.db) == whole)
    }

    /// The event row as JSON and its personal data, if any: everything the audit trail keeps of it.
    static func event(_ id: Int64, in db: TestDatabase) throws -> String {
        try db.rows(
            """
            SELECT to_jsonb(e)::text || coalesce((SELECT p.data::text FROM event_personal_data p WHERE p.event_id = e.id), '') AS text
            FROM events e WHERE e.id = \(id)
            """
        )[0].decode("text")
    }
}
