import Cognito
import CognitoIngest
import Foundation
import HTTPTypes
import HummingbirdTesting
import IdentityMap
import Logging
import Postgres
import TestSupport
import Testing
import UserMigration

/// A campaign over a subset of the source users (data sovereignty) through the Cognito triggers,
/// against moto: members migrate, everyone else is answered as an unknown user and only counted;
/// sign-ins in the target are recorded for the clean-up.
@Suite("Subset campaigns and the triggers", .timeLimit(.minutes(5)))
struct SubsetTriggerTests {
    static let password = "Old-Passw0rd!"

    /// A source pool with `custom:country` and its users, a target with `custom:stable_id`, both
    /// registered, and a campaign between them over `conditions` and the `members` a file would
    /// list (given each source user's sub).
    struct World {
        let api: APIFixture
        let cognito: CognitoClient
        let old: String
        let new: String
        let campaign: Campaign
        /// Source username → sub (which is also the person's stable ID).
        let subs: [String: String]
        var trigger: String { api.tokens[.trigger]! }

        static func make(
            users: [(username: String, country: String?)], conditions: [CampaignSubset.Condition],
            members: (_ old: String, _ subs: [String: String]) -> [SubsetMember]? = { _, _ in nil }
        ) async throws -> World {
            let api = try await APIFixture.make()
            let cognito = try TriggerFlowTests.World.moto(region: "us-east-1")
            let suffix = UUID().uuidString.prefix(6)
            let old = try await cognito.createUserPool(name: "sov-old-\(suffix)", customAttributes: [SchemaAttribute(name: "country")])
            let clientID = try await cognito.createUserPoolClient(poolID: old, name: "migration")
            let new = try await cognito.createUserPool(name: "sov-new-\(suffix)", customAttributes: [SchemaAttribute(name: "stable_id")])
            let by = Attribution(actor: .system)
            let pools = PoolStore(database: api.db.database)
            for pool in [old, new] { _ = try await pools.add(id: PoolID(pool)!, attribution: by).run(on: api.db.database) }
            var subs: [String: String] = [:]
            for user in users {
                subs[user.username] = try await sourceUser(user.username, country: user.country, pool: old, cognito: cognito, db: api.db)
            }
            var spec = NewCampaign(
                name: "sov-\(suffix)", target: PoolID(new)!, sources: [PoolID(old)!], sourceClientID: clientID,
                stableIDAttribute: "custom:stable_id")
            spec.subsetConditions = conditions
            spec.subsetMembers = members(old, subs)
            spec.targetFacts = await TargetPoolFacts.read(pool: PoolID(new)!, stableIDAttribute: "custom:stable_id", client: cognito)
            let campaign = try await CampaignStore(database: api.db.database).create(spec, attribution: by).run(on: api.db.database)
            return World(api: api, cognito: cognito, old: old, new: new, campaign: campaign, subs: subs)
        }

        /// A confirmed source user with a password and a country, mapped with its sub as its ID.
        static func sourceUser(
            _ username: String, country: String?, pool: String, cognito: CognitoClient, db: TestDatabase
        )
            async throws -> String
        {
            let attributes = country.map { [AttributeType("custom:country", $0)] } ?? []
            let user = try await cognito.createTestUser(poolID: pool, username: username, attributes: attributes)
            try await cognito.adminSetUserPassword(poolID: pool, username: username, password: SubsetTriggerTests.password, permanent: true)
            let sub = try #require(user.attribute("sub"))
            _ = try await IdentityMapStore(database: db.database).createUser(
                id: UUID(uuidString: sub),
                identities: [try NewIdentity(pool: PoolID(pool)!, sub: sub, username: user.Username, via: .import)],
                attribution: Attribution(actor: .system)
            ).run(on: db.database)
            return sub
        }

        func migrate(
            _ client: some TestClientProtocol, _ username: String, password: String = SubsetTriggerTests.password
        ) async throws
            -> Reply
        {
            try await client.call(
                .post, "/v1/cognito/triggers", token: trigger,
                json: TriggerFlowTests.migrationEvent(pool: new, username: username, password: password))
        }

        /// The campaign's refusals of `reason` in its `migration_refusals_counted` events.
        func refusals(_ reason: String) throws -> Int {
            try api.db.rows(
                """
                SELECT coalesce(sum((details->'counts'->>\(reason)::text)::int), 0)::int AS n FROM events
                WHERE kind = 'migration_refusals_counted' AND details->>'campaign' = \(campaign.id.uuidString.lowercased())
                """
            )[0].decode("n")
        }
    }

    @Test(
        "--only custom:country=DE,FR: a member migrates and links, with her sign-in recorded; a non-member is answered as an unknown user, right password or not, and only counted"
    )
    func attributeSubset() async throws {
        let w = try await World.make(
            users: [("anna", "DE"), ("bill", "US"), ("cleo", nil)],
            conditions: [CampaignSubset.Condition(attribute: "custom:country", values: ["DE", "FR"])])
        let anna = try #require(w.subs["anna"])
        // The source users' own links (their usernames in personal data) come before this mark.
        let mark: Int64 = try w.api.db.rows("SELECT coalesce(max(id), 0) AS id FROM events")[0].decode("id")
        try await w.api.test { client in
            let migrated = try await w.migrate(client, "anna")
            #expect(migrated.status == 200, "\(migrated)")
            let attributes = try #require(TriggerFlowTests.responseObject(migrated)["userAttributes"] as? [String: String])
            #expect(attributes["custom:stable_id"] == anna)
            // The first refusal of the campaign's minute is written at once: bill, with the right password.
            for (username, password) in [("bill", Self.password), ("bill", "Wrong-Passw0rd!"), ("cleo", Self.password)] {
                let refused = try await w.migrate(client, username, password: password)
                #expect(refused.status == 400 && refused.code == "not_authorized", "\(username): \(refused)")
                let unknown = try await w.migrate(client, "nobody-\(username)")
                #expect(refused.text == unknown.text, "the same answer as an unknown user")
            }
            #expect(try w.refusals("outside_subset") == 1 && w.refusals("user_not_found") == 0)

            // Cognito creates anna in the target; her post-authentication links her new sub.
            let created = try await w.cognito.createTestUser(
                poolID: w.new, username: "anna", attributes: attributes.map { AttributeType($0.key, $0.value) })
            let newSub = try #require(created.attribute("sub"))
            let signedIn = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try TriggerFlowTests.postAuthEvent(
                    pool: w.new, username: "anna", attributes: attributes.merging(["sub": newSub]) { $1 }))
            #expect(signedIn.status == 200, "\(signedIn)")
        }
        #expect(try w.api.db.count("events", where: "kind = 'migration_succeeded'") == 1)
        // Nothing of bill or cleo was kept: no failure of their person, no pending link, no username.
        #expect(try w.api.db.count("events", where: "kind = 'migration_failed'") == 0)
        #expect(try w.api.db.count("pending_links", where: "username <> 'anna'") == 0)
        #expect(
            try w.api.db.count(
                "event_personal_data", where: "event_id > \(mark) AND (data::text LIKE '%bill%' OR data::text LIKE '%cleo%')") == 0)
        // anna's target identity is linked to her person, and her sign-in is recorded.
        #expect(try w.api.db.count("identities", where: "pool_id = '\(w.new)' AND user_id = '\(anna)' AND status = 'active'") == 1)
        #expect(
            try w.api.db.count(
                "identity_sign_ins g JOIN identities i ON i.id = g.identity_id",
                where: "i.pool_id = '\(w.new)' AND i.user_id = '\(anna)' AND g.first_signed_in_at > now() - interval '1 minute'") == 1)
        // The campaign records its subset: the attribute and how many values, never a value nor a
        // digest of one (a value can be someone's email; an event cannot be erased). The values
        // are in campaigns.subset, in the shape the previous release reads.
        #expect(
            try w.api.db.count(
                "events",
                where: """
                    kind = 'campaign_created'
                      AND details->'subset'->'only' = '[{"attribute": "custom:country", "count": 2}]'::jsonb
                      AND NOT details->'subset' ? 'members' AND details::text NOT LIKE '%"DE"%'
                    """) == 1)
        #expect(
            try w.api.db.count(
                "campaigns",
                where: """
                    id = '\(w.campaign.id)' AND subset = '{"only": [{"attribute": "custom:country", "values": ["DE", "FR"]}]}'::jsonb
                    """) == 1)
    }

    @Test(
        "--only-file: a username or a sub listed migrates, a user not listed is refused and counted; the file's names stay out of events and the API"
    )
    func memberFile() async throws {
        let w = try await World.make(users: [("carl", "US"), ("dora", nil), ("emil", "DE")], conditions: []) { old, subs in
            [SubsetMember(pool: PoolID(old)!, kind: .username, key: "carl"), SubsetMember(pool: nil, kind: .sub, key: subs["dora"]!)]
        }
        try await w.api.test { client in
            for username in ["carl", "dora"] {
                let migrated = try await w.migrate(client, username)
                #expect(migrated.status == 200, "\(username): \(migrated)")
            }
            let refused = try await w.migrate(client, "emil")
            #expect(refused.status == 400 && refused.code == "not_authorized", "\(refused)")
            let shown = try await client.call(.get, "/v1/campaigns/\(w.campaign.id.uuidString.lowercased())", token: w.api.tokens[.admin]!)
            #expect(shown.status == 200, "\(shown)")
            let subset = try #require(shown.json["subset"] as? [String: Any], "\(shown)")
            #expect((subset["only"] as? [Any])?.isEmpty == true)
            #expect((subset["members"] as? [String: Int]) == ["usernames": 1, "subs": 1], "\(shown)")
            #expect(!shown.text.contains("carl"))
        }
        #expect(try w.refusals("outside_subset") == 1)
        #expect(try w.api.db.count("events", where: "kind = 'migration_succeeded'") == 2)
        #expect(try w.api.db.count("events", where: "kind = 'campaign_created' AND details::text LIKE '%carl%'") == 0)
        #expect(try w.api.db.count("events", where: "kind = 'campaign_created' AND details->'subset'->'members'->>'usernames' = '1'") == 1)
        #expect(try w.api.db.count("campaign_subset_members", where: "campaign_id = '\(w.campaign.id)'") == 2)
    }

    @Test("a token for a linked sub is a sign-in too: noted in memory, written a batch at a time, once an hour")
    func tokenSignIns() async throws {
        let w = try await World.make(users: [], conditions: [CampaignSubset.Condition(attribute: "custom:country", values: ["DE"])])
        // tina was linked in the target by an administrator; she has never signed in there.
        let tina = try await w.cognito.createTestUser(poolID: w.new, username: "tina")
        let sub = try #require(tina.attribute("sub"))
        let person = try await IdentityMapStore(database: w.api.db.database).createUser(
            identities: [try NewIdentity(pool: PoolID(w.new)!, sub: sub, username: "tina", via: .manual)],
            attribution: Attribution(actor: .system)
        ).run(on: w.api.db.database).id
        var logger = Logger(label: "test.triggers")
        logger.logLevel = .critical
        let triggers = TriggerService(database: w.api.db.database, clients: PoolClients(), logger: logger)
        let event = try CognitoTriggerEvent(
            data: Data(try TriggerFlowTests.tokenEvent(pool: w.new, username: "tina", attributes: ["sub": sub], version: "1").utf8))
        for _ in 0..<3 { _ = try await triggers.handle(event, attribution: Attribution(actor: .system)) }
        #expect(try w.api.db.count("identity_sign_ins") == 0, "nothing written on the token's path")
        let noted = triggers.signIns.drain()
        #expect(noted == [SignInLog.Entry(pool: PoolID(w.new)!, sub: sub)], "three tokens, one sign-in noted")
        try await triggers.writeSignIns(noted)
        #expect(
            try w.api.db.count(
                "identity_sign_ins g JOIN identities i ON i.id = g.identity_id",
                where: "i.user_id = '\(person)' AND g.first_signed_in_at = g.last_signed_in_at") == 1)
        // Written again within the hour: the row keeps its times.
        try w.api.db.connect().execute(
            "UPDATE identity_sign_ins SET first_signed_in_at = now() - interval '40 days', last_signed_in_at = now() - interval '30 minutes'"
        )
        try await triggers.writeSignIns(noted)
        #expect(try w.api.db.count("identity_sign_ins", where: "last_signed_in_at < now() - interval '29 minutes'") == 1)
        try w.api.db.connect().execute("UPDATE identity_sign_ins SET last_signed_in_at = now() - interval '2 hours'")
        try await triggers.writeSignIns(noted)
        #expect(
            try w.api.db.count(
                "identity_sign_ins",
                where: "last_signed_in_at > now() - interval '1 minute' AND first_signed_in_at < now() - interval '39 days'")
                == 1)
    }
}
