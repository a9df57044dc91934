import AuditTrail
import CryptoPrimitives
import Foundation
import IdentityMap
import Postgres
import Support
import TestSupport
import Testing
import UserMigration

/// Subset campaigns whose `--only` values are people's emails and usernames: `campaign_created`
/// records each condition's attribute and how many values it has, never a value nor a digest of
/// one (no erasure can reach an event's details); the values are kept in `campaigns.subset` only,
/// in the shape every release reads, and an erasure of one of those people — as `serve` runs it,
/// under the service role — takes hers out of it and leaves no trace of her anywhere.
@Suite("Subset campaigns and erasure", .timeLimit(.minutes(3)))
struct SubsetErasureTests {
    static let by = Attribution(actor: .system)
    static let source = PoolID("us-east-1_Audit")!

    /// `--only` as `campaign create` reads it, into a new target pool `target`.
    static func campaign(_ only: [String], into target: String, in f: AuditFixture) async throws -> Campaign {
        let pool = PoolID(target)!
        _ = try await PoolStore(database: f.db.database).add(id: pool, attribution: by).run(on: f.db.database)
        var new = NewCampaign(name: target, target: pool, sources: [source])
        new.subsetConditions = try CampaignSubset.conditions(parsing: only)
        return try await CampaignStore(database: f.db.database).create(new, attribution: by).run(on: f.db.database)
    }

    /// A person with one identity in the source pool.
    static func person(_ username: String, email: String, in f: AuditFixture) async throws -> UUID {
        try await IdentityMapStore(database: f.db.database).createUser(
            identities: [try NewIdentity(pool: source, sub: testSub("subset-\(username)"), username: username, email: email)],
            attribution: by
        ).run(on: f.db.database).id
    }

    /// The database as `serve` sees it: only the service role's privileges.
    static func service(_ f: AuditFixture) -> Database {
        let url = f.db.url + (f.db.url.contains("?") ? "&" : "?") + "options=-c%20role%3Dstableid_service"
        return Database(primary: PostgresClient(configuration: .init(conninfo: url, maxConnections: 2)))
    }

    @Test(
        "--only email=…: campaign_created holds each attribute's count, no value and no digest of one; erasing one of the people takes hers out of campaigns.subset, leaves no trace of her in a pg_dump, keeps the others' values, and the chain verifies"
    )
    func emailValues() async throws {
        let f = try await AuditFixture.make(users: 2)
        let zoe = try await Self.person("zoe.subset", email: "Zoe.Subset@Example.com", in: f)
        // Her email (in another case than her identity's) and user1's, her username and someone
        // else's, a country; and a second campaign about her alone.
        let only = ["email=zoe.subset@example.com,user1@example.com", "preferred_username=zoe.subset,someone.else", "custom:country=DE"]
        let campaign = try await Self.campaign(only, into: "eu-central-1_AuditEu", in: f)
        let alone = try await Self.campaign(["email=zoe.subset@example.com"], into: "eu-west-3_AuditFr", in: f)
        #expect(
            campaign.subset?.conditions.map(\.values) == [
                ["zoe.subset@example.com", "user1@example.com"], ["zoe.subset", "someone.else"], ["DE"],
            ])
        // Stored in the one place, in the previous release's shape.
        #expect(
            try f.db.count(
                "campaigns",
                where: """
                    id = '\(campaign.id)' AND subset = '{"only": [
                        {"attribute": "email", "values": ["zoe.subset@example.com", "user1@example.com"]},
                        {"attribute": "preferred_username", "values": ["zoe.subset", "someone.else"]},
                        {"attribute": "custom:country", "values": ["DE"]}]}'::jsonb
                    """) == 1)

        // The event: each attribute and its count, nothing else of the values.
        let created = try f.db.rows("SELECT id FROM events WHERE kind = 'campaign_created' ORDER BY id")
        #expect(created.count == 2)
        let eventID: Int64 = try created[0].decode("id")
        let expected = """
            [{"attribute": "email", "count": 2}, {"attribute": "preferred_username", "count": 2},
             {"attribute": "custom:country", "count": 1}]
            """
        let whole = try Self.event(eventID, in: f.db)
        let matching = try f.db.rows(
            "SELECT count(*)::int AS n FROM events WHERE id = \(eventID) AND details->'subset'->'only' = \(expected)::jsonb")
        #expect(try matching[0].decode("n", as: Int.self) == 1, "\(whole)")
        // No value anywhere in either event — its row, its details, its personal data — nor any
        // hex SHA-256 of a value or of a condition's values (as the previous change recorded).
        for id in try created.map({ try $0.decode("id", as: Int64.self) }) {
            let text = try Self.event(id, in: f.db)
            for value in ["zoe.subset", "user1@example.com", "someone.else"] {
                #expect(!text.lowercased().contains(value), "\(value) in \(text)")
            }
            #expect(!text.contains("\"DE\""), "DE in \(text)")
            for digest in Self.digests(of: only) {
                #expect(!text.contains(digest), "a digest of the values in \(text)")
            }
        }

        let service = Self.service(f)
        defer { service.shutdown() }
        let result = try await Erasure(database: service).forget(userID: zoe, attribution: Self.by)
        #expect(
            result.subsetValues
                == [ErasedSubsetValues(campaign: campaign.id, removed: 2), ErasedSubsetValues(campaign: alone.id, removed: 1)].sorted {
                    $0.campaign.uuidString < $1.campaign.uuidString
                })
        // The erasure's event counts them, per campaign, and names no value.
        let counts = """
            [{"campaign": "\(campaign.id.uuidString.lowercased())", "removed": 2},
             {"campaign": "\(alone.id.uuidString.lowercased())", "removed": 1}]
            """
        let erased = try f.db.rows(
            """
            SELECT count(*)::int AS n FROM events
            WHERE kind = 'personal_data_erased' AND details->'subset_values' @> \(counts)::jsonb
              AND jsonb_array_length(details->'subset_values') = 2
            """)
        #expect(try erased[0].decode("n", as: Int.self) == 1)
        while try await f.chain.seal() > 0 {}
        #expect(try await f.verify().problem == nil)
        let text = try AuditTrailTests.dataDump(f.db.url)
        #expect(!text.contains("zoe.subset"), "her email and username are nowhere")
        #expect(text.contains("someone.else") && text.contains("user1@example.com"), "the other values are kept")
        // The campaigns keep the others' values, in order; a condition left with none admits
        // nobody; the events are as they were.
        let store = CampaignStore(database: f.db.database)
        let after = try #require(try await store.campaign(campaign.id.uuidString))
        #expect(after.subset?.conditions.map(\.values) == [["user1@example.com"], ["someone.else"], ["DE"]])
        let emptied = try #require(try await store.campaign(alone.id.uuidString)?.subset)
        #expect(emptied.conditions.map(\.attribute) == ["email"] && emptied.conditions[0].values.isEmpty)
        let hers: (String) -> String? = { $0 == "email" ? "zoe.subset@example.com" : nil }
        let anyone: (String) -> String? = { _ in "user1@example.com" }
        #expect(!emptied.matches(hers) && !emptied.matches(anyone))
        #expect(
            try f.db.count("campaigns", where: #"id = '\#(alone.id)' AND subset = '{"only": [{"attribute": "email", "values": []}]}'"#)
                == 1)
        #expect(try Self.event(eventID, in: f.db) == whole)
    }

    @Test(
        "an erasure looks for a username in preferred_username only: user `de` leaves custom:country=DE alone, and a person in no subset changes no campaign"
    )
    func usernamesOnlyInPreferredUsername() async throws {
        let f = try await AuditFixture.make(users: 1)
        let de = try await Self.person("de", email: "de@example.org", in: f)
        let only = ["custom:country=DE,FR", "preferred_username=DE,someone"]
        let campaign = try await Self.campaign(only, into: "eu-central-1_AuditEu", in: f)
        let service = Self.service(f)
        defer { service.shutdown() }
        let result = try await Erasure(database: service).forget(userID: de, attribution: Self.by)
        #expect(result.subsetValues == [ErasedSubsetValues(campaign: campaign.id, removed: 1)], "any case, in preferred_username")
        let after = try #require(try await CampaignStore(database: f.db.database).campaign(campaign.id.uuidString))
        #expect(after.subset?.conditions.map(\.values) == [["DE", "FR"], ["someone"]])

        let other = try await Self.person("nobody.listed", email: "nobody@example.org", in: f)
        let untouched = try await Erasure(database: service).forget(userID: other, attribution: Self.by)
        #expect(untouched.subsetValues.isEmpty)
        #expect(try f.db.count("events", where: "kind = 'personal_data_erased' AND details ? 'subset_values'") == 1)
        while try await f.chain.seal() > 0 {}
        #expect(try await f.verify().problem == nil)
    }

    /// The lower-case hex SHA-256 of each value (as given and lower-cased) and of each condition's
    /// values sorted and joined by newlines: what a digest of them would look like in an event.
    static func digests(of only: [String]) -> [String] {
        var texts: [String] = []
        for condition in only {
            let values = condition.split(separator: "=", maxSplits: 1)[1].split(separator: ",").map(String.init)
            texts += values + values.map { $0.lowercased() }
            texts.append(values.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.joined(separator: "\n"))
        }
        return texts.map { Hex.encode(SHA256.hash($0)) }
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
