import AuditTrail
import Cognito
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IdentityMap
import Postgres
import TestSupport
import Testing
import UserMigration

/// The migration paths end to end against moto, with the test playing Cognito (moto does not
/// invoke Lambda triggers): it sends the trigger events Cognito would send to
/// `POST /v1/cognito/triggers` and does in moto what Cognito would do with the answers.
@Suite("Cognito triggers and campaigns", .timeLimit(.minutes(5)))
struct TriggerFlowTests {
    /// Two moto pools (old with users and passwords, new with custom:stable_id), registered, the
    /// old one backfilled, and a campaign between them.
    struct World {
        let api: APIFixture
        let cognito: CognitoClient
        let old: String
        let new: String
        let clientID: String
        let campaign: Campaign
        var trigger: String { api.tokens[.trigger]! }
        var resolver: String { api.tokens[.resolve]! }

        /// The target pool's app client, which decides whether users can write the stable-ID attribute.
        enum TargetClient {
            case none
            /// `WriteAttributes` unset: Cognito's default, every attribute writable.
            case writesEverything
            case writes([String])
        }

        static func make(
            oldPoolUsernameAttributes: [String]? = nil, newUsernameAttributes: [String]? = nil, linkBy: [Campaign.LinkRule] = [.username],
            oldRegion: String = "us-east-1", targetAdminOnly: Bool = false, targetClient: TargetClient = .none,
            mfaUsers: Campaign.MFAUsers = .reset
        ) async throws -> World {
            let api = try await APIFixture.make()
            let cognito = try moto(region: "us-east-1")
            let sourceClient = try moto(region: oldRegion)
            let old = try await sourceClient.createUserPool(
                name: "old-\(UUID().uuidString.prefix(6))", usernameAttributes: oldPoolUsernameAttributes)
            let clientID = try await sourceClient.createUserPoolClient(poolID: old, name: "migration")
            let new = try await cognito.createUserPool(
                name: "new-\(UUID().uuidString.prefix(6))", customAttributes: [SchemaAttribute(name: "stable_id")],
                usernameAttributes: newUsernameAttributes, adminCreateUserOnly: targetAdminOnly
            )
            switch targetClient {
            case .none: break
            case .writesEverything: _ = try await cognito.createUserPoolClient(poolID: new, name: "app")
            case .writes(let attributes): _ = try await cognito.createUserPoolClient(poolID: new, name: "app", writeAttributes: attributes)
            }
            let by = Attribution(actor: .system)
            let pools = PoolStore(database: api.db.database)
            for pool in [old, new] { _ = try await pools.add(id: PoolID(pool)!, attribution: by).run(on: api.db.database) }
            var spec = NewCampaign(
                target: PoolID(new)!, sources: [PoolID(old)!], sourceClientID: clientID, stableIDAttribute: "custom:stable_id",
                linkBy: linkBy
            )
            spec.mfaUsers = mfaUsers
            // As `stableid campaign create` does: the target's facts decide what its claims are worth.
            spec.targetFacts = await TargetPoolFacts.read(pool: PoolID(new)!, stableIDAttribute: "custom:stable_id", client: cognito)
            let campaign = try await CampaignStore(database: api.db.database).create(spec, attribution: by).run(on: api.db.database)
            return World(api: api, cognito: cognito, old: old, new: new, clientID: clientID, campaign: campaign)
        }

        static func moto(region: String) throws -> CognitoClient {
            guard let url = ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"], !url.isEmpty else {
                throw CognitoError.configuration("AWS_ENDPOINT_URL is not set: run the tests through scripts/test, which starts moto")
            }
            let fast = Dictionary(uniqueKeysWithValues: QuotaCategory.allCases.map { ($0, 10_000.0) })
            return CognitoClient(
                configuration: CognitoConfiguration(region: region, endpoint: url, maxAttempts: 2, rates: fast),
                credentials: EnvironmentCredentials(environment: ["AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"])
            )
        }

        /// A confirmed user with a password in `pool`, mapped in StableID with its sub as its ID
        /// (a backfill with --reuse-sub-as-user-id). Returns the sub.
        @discardableResult
        func sourceUser(
            _ username: String, password: String, email: String? = nil, pool: String? = nil, client: CognitoClient? = nil
        )
            async throws -> String
        {
            let pool = pool ?? old
            let cognito = client ?? self.cognito
            var attributes: [AttributeType] = []
            if let email { attributes += [AttributeType("email", email), AttributeType("email_verified", "true")] }
            let user = try await cognito.createTestUser(poolID: pool, username: username, attributes: attributes)
            try await cognito.adminSetUserPassword(poolID: pool, username: username, password: password, permanent: true)
            let sub = try #require(user.attribute("sub"))
            _ = try await IdentityMapStore(database: api.db.database).createUser(
                id: UUID(uuidString: sub),
                identities: [
                    try NewIdentity(
                        pool: PoolID(pool)!, sub: sub, username: user.Username, email: email, emailVerified: email != nil, via: .import)
                ],
                attribution: Attribution(actor: .system)
            ).run(on: api.db.database)
            return sub
        }

        /// What Cognito does with a successful migration answer: create the user in the new pool.
        func createInNew(_ username: String, attributes: [String: String]) async throws -> String {
            let user = try await cognito.createTestUser(
                poolID: new, username: username, attributes: attributes.map { AttributeType($0.key, $0.value) }
            )
            return try #require(user.attribute("sub"))
        }
    }

    // MARK: Events as Cognito sends them

    static func migrationEvent(pool: String, username: String, password: String?) -> String {
        let source = password == nil ? "UserMigration_ForgotPassword" : "UserMigration_Authentication"
        let request = password.map { #"{"password":"\#($0)","validationData":null,"clientMetadata":null}"# } ?? #"{"validationData":null}"#
        return #"""
            {"version":"1","triggerSource":"\#(source)","region":"us-east-1","userPoolId":"\#(pool)","userName":"\#(username)",
             "callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"abc"},
             "request":\#(request),
             "response":{"userAttributes":null,"forceAliasCreation":null,"finalUserStatus":null,"messageAction":null,"desiredDeliveryMediums":null}}
            """#
    }

    static func attributesJSON(_ attributes: [String: String]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: attributes, options: [.sortedKeys]), as: UTF8.self)
    }

    static func postAuthEvent(
        pool: String, username: String, attributes: [String: String], source: String = "PostAuthentication_Authentication"
    )
        throws -> String
    {
        #"""
        {"version":"1","triggerSource":"\#(source)","region":"us-east-1","userPoolId":"\#(pool)","userName":"\#(username)",
         "callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"abc"},
         "request":{"userAttributes":\#(try attributesJSON(attributes)),"newDeviceUsed":false},"response":{}}
        """#
    }

    static func tokenEvent(pool: String, username: String, attributes: [String: String], version: String) throws -> String {
        #"""
        {"version":"\#(version)","triggerSource":"TokenGeneration_Authentication","region":"us-east-1","userPoolId":"\#(pool)",
         "userName":"\#(username)","callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"abc"},
         "request":{"userAttributes":\#(try attributesJSON(attributes)),"groupConfiguration":{"groupsToOverride":[],"iamRolesToOverride":[],"preferredRole":null},"scopes":["openid"]},
         "response":{"claimsOverrideDetails":null}}
        """#
    }

    static func responseObject(_ reply: Reply) -> [String: Any] { reply.json["response"] as? [String: Any] ?? [:] }

    // MARK: Lazy migration

    @Test(
        "lazy migration: right password → attributes with the stable ID; Cognito creates the user; post-auth links; tokens carry stable_id")
    func lazyMigration() async throws {
        let w = try await World.make()
        let oldSub = try await w.sourceUser("alice", password: "Old-Passw0rd!", email: "alice@example.com")
        try await w.api.test { client in
            let migrated = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: Self.migrationEvent(pool: w.new, username: "alice", password: "Old-Passw0rd!")
            )
            #expect(migrated.status == 200, "\(migrated)")
            let response = Self.responseObject(migrated)
            let attributes = try #require(response["userAttributes"] as? [String: String], "\(migrated)")
            #expect(attributes["sub"] == nil)
            #expect(attributes["email"] == "alice@example.com" && attributes["email_verified"] == "true")
            #expect(attributes["custom:stable_id"] == oldSub)
            #expect(response["finalUserStatus"] as? String == "CONFIRMED" && response["messageAction"] as? String == "SUPPRESS")
            #expect(!migrated.text.contains("Old-Passw0rd!"))

            // Cognito creates the user in the new pool with those attributes: a new sub.
            let newSub = try await w.createInNew("alice", attributes: attributes)
            #expect(newSub != oldSub)
            let signedIn = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.postAuthEvent(pool: w.new, username: "alice", attributes: attributes.merging(["sub": newSub]) { $1 })
            )
            #expect(signedIn.status == 200, "\(signedIn)")
            let old = try await client.call(.get, "/v1/resolve?pool=\(w.old)&sub=\(oldSub)", token: w.resolver)
            let new = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(newSub)", token: w.resolver)
            #expect(new.status == 200 && new.json["user_id"] as? String == old.json["user_id"] as? String, "\(new)")
            #expect((new.json["identity"] as? [String: Any])?["via"] as? String == "lazy")

            for version in ["1", "2"] {
                let token = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger,
                    json: try Self.tokenEvent(
                        pool: w.new, username: "alice", attributes: ["sub": newSub, "email": "alice@example.com"], version: version)
                )
                #expect(token.status == 200, "\(token)")
                let response = Self.responseObject(token)
                if version == "1" {
                    let claims = (response["claimsOverrideDetails"] as? [String: Any])?["claimsToAddOrOverride"] as? [String: String]
                    #expect(claims?["stable_id"] == oldSub, "\(token)")
                } else {
                    let details = response["claimsAndScopeOverrideDetails"] as? [String: Any]
                    let id = (details?["idTokenGeneration"] as? [String: Any])?["claimsToAddOrOverride"] as? [String: String]
                    let access = (details?["accessTokenGeneration"] as? [String: Any])?["claimsToAddOrOverride"] as? [String: String]
                    #expect(id?["stable_id"] == oldSub && access?["stable_id"] == oldSub, "\(token)")
                }
            }
        }
        // Events: the migration and the link, and never the password anywhere in the database.
        #expect(try w.api.db.count("events", where: "kind = 'migration_succeeded'") == 1)
        #expect(try w.api.db.count("events", where: "kind = 'identity_linked' AND details->>'via' = 'lazy'") == 1)
        // The link carries its campaign (campaign progress counts it).
        #expect(try w.api.db.count("identities", where: "campaign_id = '\(w.campaign.id.uuidString.lowercased())'") == 1)
        let everything = try w.api.db.rows(
            "SELECT string_agg(e.details::text || coalesce(p.data::text, ''), ' ') AS all FROM events e LEFT JOIN event_personal_data p ON p.event_id = e.id"
        )[0]
        #expect(try !(everything.decode("all", as: String.self).contains("Old-Passw0rd!")))
        #expect(try w.api.db.count("pending_links") == 0)
        // The state after the migration follows from its events.
        let state = try await StateVerifier(database: w.api.db.database).verify()
        #expect(state.mismatches.isEmpty, "\(state.mismatches)")
    }

    @Test(
        "wrong password, disabled and unknown users get one answer (not_authorized); known users' refusals are their events, unknown usernames only a count"
    )
    func refusals() async throws {
        let w = try await World.make()
        try await w.sourceUser("bob", password: "Right-Passw0rd!")
        try await w.sourceUser("carol", password: "Right-Passw0rd!")
        try await w.cognito.adminDisableUser(poolID: w.old, username: "carol")
        try await w.api.test { client in
            let cases: [(String, String, String)] = [
                ("bob", "Wrong-Passw0rd!", "not_authorized"), ("carol", "Right-Passw0rd!", "not_authorized"),
                ("nobody", "Whatever-1!", "not_authorized"),
            ]
            for (username, password, code) in cases {
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger,
                    json: Self.migrationEvent(pool: w.new, username: username, password: password)
                )
                #expect(reply.status == 400 && reply.code == code && reply.isProblem, "\(username): \(reply)")
                #expect(!reply.text.contains(password))
            }
        }
        #expect(try w.api.db.count("events", where: "kind = 'migration_failed'") == 2)
        #expect(try w.api.db.count("events", where: "kind = 'migration_failed' AND details->>'reason' = 'disabled'") == 1)
        #expect(try w.api.db.count("events", where: "kind = 'migration_failed' AND user_id IS NOT NULL AND pool_id = '\(w.old)'") == 2)
        // The first unknown username of the campaign's minute is counted in an event of its own, without the name.
        #expect(
            try w.api.db.count(
                "events", where: "kind = 'migration_refusals_counted' AND (details->'counts'->>'user_not_found')::int = 1") == 1)
        #expect(try w.api.db.count("event_personal_data p JOIN events e ON e.id = p.event_id", where: "p.data::text LIKE '%nobody%'") == 0)
        #expect(try w.api.db.count("pending_links") == 0)
        let everything = try w.api.db.rows("SELECT string_agg(details::text, ' ') AS all FROM events")[0]
        #expect(try !(everything.decode("all", as: String.self).contains("Passw0rd")))
    }

    @Test("forgot password: no password check, RESET_REQUIRED, linked as forgot-password")
    func forgotPassword() async throws {
        let w = try await World.make()
        let oldSub = try await w.sourceUser("dave", password: "Old-Passw0rd!", email: "dave@example.com")
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger, json: Self.migrationEvent(pool: w.new, username: "dave", password: nil)
            )
            #expect(reply.status == 200, "\(reply)")
            let response = Self.responseObject(reply)
            #expect(response["finalUserStatus"] as? String == "RESET_REQUIRED")
            let attributes = try #require(response["userAttributes"] as? [String: String])
            let newSub = try await w.createInNew("dave", attributes: attributes)
            let confirmed = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.postAuthEvent(
                    pool: w.new, username: "dave", attributes: attributes.merging(["sub": newSub]) { $1 },
                    source: "PostConfirmation_ConfirmForgotPassword"
                )
            )
            #expect(confirmed.status == 200, "\(confirmed)")
            let resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(newSub)", token: w.resolver)
            #expect(resolved.json["user_id"] as? String == oldSub)
            #expect((resolved.json["identity"] as? [String: Any])?["via"] as? String == "forgot-password")
        }
    }

    @Test("retried and concurrent duplicate post-auth events link once, with one event")
    func duplicates() async throws {
        // An import job created erin in the target, which admits no self sign-up: her username links.
        let w = try await World.make(targetAdminOnly: true)
        let oldSub = try await w.sourceUser("erin", password: "Old-Passw0rd!")
        let newSub = try await w.createInNew("erin", attributes: [:])
        let event = try Self.postAuthEvent(pool: w.new, username: "erin", attributes: ["sub": newSub])
        try await w.api.test { client in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<10 {
                    group.addTask { try await client.call(.post, "/v1/cognito/triggers", token: w.trigger, json: event).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 10))
            #expect(try await client.call(.post, "/v1/cognito/triggers", token: w.trigger, json: event).status == 200)
            let resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(newSub)", token: w.resolver)
            #expect(resolved.json["user_id"] as? String == oldSub)
        }
        #expect(try w.api.db.count("identities", where: "sub = '\(newSub)'") == 1)
        #expect(try w.api.db.count("events", where: "kind = 'identity_linked' AND sub = '\(newSub)'") == 1)
    }

    @Test("a user who signs up afresh in the new pool gets a new stable ID; an unverified email never links")
    func freshSignUp() async throws {
        let w = try await World.make(linkBy: [.username, .verifiedEmail])
        let oldSub = try await w.sourceUser("frank", password: "Old-Passw0rd!", email: "frank@example.com")
        let newSub = try await w.createInNew("frank-new", attributes: ["email": "frank@example.com", "email_verified": "false"])
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.postAuthEvent(
                    pool: w.new, username: "frank-new",
                    attributes: ["sub": newSub, "email": "frank@example.com", "email_verified": "false"],
                    source: "PostConfirmation_ConfirmSignUp"
                )
            )
            #expect(reply.status == 200, "\(reply)")
            let resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(newSub)", token: w.resolver)
            let id = try #require(resolved.json["user_id"] as? String)
            #expect(id != oldSub)
            #expect((resolved.json["identity"] as? [String: Any])?["via"] as? String == "post-confirmation")
        }
        // A new person was not moved by the campaign: no campaign on the identity, so campaign
        // progress never counts a sign-up as migrated (sql/0016).
        #expect(try w.api.db.count("identities", where: "sub = '\(newSub)' AND campaign_id IS NULL") == 1)
    }

    @Test("with verified-email allowed, the same verified email links; a federated account links by provider and user id")
    func verifiedEmailAndFederated() async throws {
        let w = try await World.make(linkBy: [.username, .verifiedEmail])
        let oldSub = try await w.sourceUser("gina", password: "Old-Passw0rd!", email: "Gina@Example.com")
        // A Google user known in the old pool (federated user id kept).
        let googleSub = testSub("google-old")
        _ = try await IdentityMapStore(database: w.api.db.database).createUser(
            id: UUID(uuidString: googleSub),
            identities: [
                try NewIdentity(
                    pool: PoolID(w.old)!, sub: googleSub, username: "Google_1234567890", provider: "Google", via: .import,
                    federatedUserID: "1234567890"
                )
            ],
            attribution: Attribution(actor: .system)
        ).run(on: w.api.db.database)
        let emailSub = try await w.createInNew("gina.new", attributes: ["email": "gina@example.com", "email_verified": "true"])
        let googleNewSub = testSub("google-new")
        let identities =
            #"[{"userId":"1234567890","providerName":"Google","providerType":"Google","issuer":null,"primary":true,"dateCreated":1700000000000}]"#
        try await w.api.test { client in
            var reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.postAuthEvent(
                    pool: w.new, username: "gina.new", attributes: ["sub": emailSub, "email": "gina@example.com", "email_verified": "true"]
                )
            )
            #expect(reply.status == 200, "\(reply)")
            var resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(emailSub)", token: w.resolver)
            #expect(resolved.json["user_id"] as? String == oldSub, "\(resolved)")
            reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.postAuthEvent(
                    pool: w.new, username: "Google_1234567890_new", attributes: ["sub": googleNewSub, "identities": identities]
                )
            )
            #expect(reply.status == 200, "\(reply)")
            resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(googleNewSub)", token: w.resolver)
            #expect(resolved.json["user_id"] as? String == googleSub, "\(resolved)")
            #expect((resolved.json["identity"] as? [String: Any])?["via"] as? String == "social")
        }
    }

    @Test("a target that signs in by email: the target email names the source username")
    func emailAsUsername() async throws {
        let w = try await World.make(newUsernameAttributes: ["email"], linkBy: [.email])
        let oldSub = try await w.sourceUser("hank@example.com", password: "Old-Passw0rd!")
        let created = try await w.cognito.createTestUser(
            poolID: w.new, username: "hank@example.com", attributes: [AttributeType("email", "hank@example.com")]
        )
        let newSub = try #require(created.attribute("sub"))
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.postAuthEvent(
                    pool: w.new, username: created.Username,
                    attributes: ["sub": newSub, "email": "hank@example.com", "email_verified": "true"]
                )
            )
            #expect(reply.status == 200, "\(reply)")
            let resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(newSub)", token: w.resolver)
            #expect(resolved.json["user_id"] as? String == oldSub, "\(resolved)")
        }
    }

    @Test("two source pools into one target, one of them in another region: the user is found where they are")
    func consolidation() async throws {
        let api = try await APIFixture.make()
        let home = try World.moto(region: "us-east-1")
        let abroad = try World.moto(region: "eu-central-1")
        let first = try await home.createUserPool(name: "first-\(UUID().uuidString.prefix(6))")
        let second = try await abroad.createUserPool(name: "second-\(UUID().uuidString.prefix(6))")
        let target = try await home.createUserPool(name: "target-\(UUID().uuidString.prefix(6))")
        let firstClient = try await home.createUserPoolClient(poolID: first, name: "migration")
        let secondClient = try await abroad.createUserPoolClient(poolID: second, name: "migration")
        let by = Attribution(actor: .system)
        for pool in [first, second, target] {
            _ = try await PoolStore(database: api.db.database).add(id: PoolID(pool)!, attribution: by).run(on: api.db.database)
        }
        _ = try await CampaignStore(database: api.db.database).create(
            NewCampaign(
                target: PoolID(target)!, sources: [PoolID(first)!, PoolID(second)!],
                sourceClientIDs: [PoolID(first)!: firstClient, PoolID(second)!: secondClient]
            ),
            attribution: by
        ).run(on: api.db.database)
        let user = try await abroad.createTestUser(poolID: second, username: "ivy")
        try await abroad.adminSetUserPassword(poolID: second, username: "ivy", password: "Abroad-Passw0rd!", permanent: true)
        let oldSub = try #require(user.attribute("sub"))
        try await api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: api.tokens[.trigger],
                json: Self.migrationEvent(pool: target, username: "ivy", password: "Abroad-Passw0rd!")
            )
            #expect(reply.status == 200, "\(reply)")
        }
        // The source user was unknown to the map: it is mapped now, with a pending link for the target.
        let mapped = try await IdentityMapStore(database: api.db.database).resolve(.pool(PoolID(second)!, sub: oldSub))
        #expect(mapped != nil)
        #expect(try api.db.count("pending_links", where: "username = 'ivy'") == 1)
    }

    @Test("takeover attempts: a sign-up with someone's username or stable-ID attribute, or an unverified email, links nobody")
    func takeovers() async throws {
        let w = try await World.make(linkBy: [.username, .email, .verifiedEmail], targetClient: .writesEverything)
        let victim = try await w.sourceUser("victim", password: "Old-Passw0rd!", email: "victim@example.com")
        let victimByEmail = try await w.sourceUser("mallory@example.com", password: "Old-Passw0rd!")
        try await w.api.test { client in
            let attempts: [(String, [String: String], String)] = [
                // Signs up afresh under the victim's username.
                ("victim", [:], "PostConfirmation_ConfirmSignUp"),
                // Names the victim's stable ID in the writable custom attribute.
                ("someone-else", ["custom:stable_id": victim], "PostConfirmation_ConfirmSignUp"),
                ("another-one", ["custom:stable_id": victim], "PostAuthentication_Authentication"),
                // An unverified email that is a source user's username.
                ("third", ["email": "mallory@example.com", "email_verified": "false"], "PostAuthentication_Authentication"),
            ]
            for (username, attributes, source) in attempts {
                let sub = testSub("attacker-\(username)")
                let reply = try await client.call(
                    .post, "/v1/cognito/triggers", token: w.trigger,
                    json: try Self.postAuthEvent(
                        pool: w.new, username: username, attributes: attributes.merging(["sub": sub]) { $1 }, source: source)
                )
                #expect(reply.status == 200, "\(reply)")
                let resolved = try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(sub)", token: w.resolver)
                let id = try #require(resolved.json["user_id"] as? String)
                #expect(id != victim && id != victimByEmail, "\(username) took over \(id)")
            }
        }
    }

    @Test("a sub unlinked on purpose is not relinked by a sign-in, and its tokens carry no stable_id")
    func unlinkedStaysUnlinked() async throws {
        let w = try await World.make(targetAdminOnly: true)
        let oldSub = try await w.sourceUser("uma", password: "Old-Passw0rd!")
        let newSub = try await w.createInNew("uma", attributes: [:])
        try await w.api.test { client in
            let event = try Self.postAuthEvent(pool: w.new, username: "uma", attributes: ["sub": newSub])
            #expect(try await client.call(.post, "/v1/cognito/triggers", token: w.trigger, json: event).status == 200)
            let unlinked = try await client.call(
                .delete, "/v1/users/\(oldSub)/identities/\(w.new)/\(newSub)", token: w.api.tokens[.write]
            )
            #expect(unlinked.status == 200, "\(unlinked)")
            #expect(try await client.call(.post, "/v1/cognito/triggers", token: w.trigger, json: event).status == 200)
            #expect(try await client.call(.get, "/v1/resolve?pool=\(w.new)&sub=\(newSub)", token: w.resolver).status == 404)
            let token = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: try Self.tokenEvent(pool: w.new, username: "uma", attributes: ["sub": newSub], version: "1")
            )
            #expect(token.status == 200 && !token.text.contains("stable_id"), "\(token)")
        }
    }

    @Test("a source user on a temporary password migrates as RESET_REQUIRED, not with that password made permanent")
    func temporaryPassword() async throws {
        let w = try await World.make()
        let user = try await w.cognito.createTestUser(poolID: w.old, username: "tess", temporaryPassword: "Temp-Passw0rd!")
        let sub = try #require(user.attribute("sub"))
        _ = try await IdentityMapStore(database: w.api.db.database).createUser(
            identities: [try NewIdentity(pool: PoolID(w.old)!, sub: sub, username: "tess")], attribution: Attribution(actor: .system)
        ).run(on: w.api.db.database)
        try await w.api.test { client in
            let reply = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: Self.migrationEvent(pool: w.new, username: "tess", password: "Temp-Passw0rd!")
            )
            #expect(reply.status == 200, "\(reply)")
            #expect(Self.responseObject(reply)["finalUserStatus"] as? String == "RESET_REQUIRED", "\(reply)")
        }
    }

    @Test("trigger requests: scope trigger only; unknown pool 422; unknown trigger 400; no campaign 422")
    func boundaries() async throws {
        let w = try await World.make()
        try await w.api.test { client in
            let event = Self.migrationEvent(pool: w.new, username: "x", password: "y")
            #expect(try await client.call(.post, "/v1/cognito/triggers", token: w.resolver, json: event).status == 403)
            let unknown = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: Self.migrationEvent(pool: "us-east-1_Unknown1", username: "x", password: "y")
            )
            #expect(unknown.status == 422 && unknown.code == "unknown_pool", "\(unknown)")
            let odd = event.replacingOccurrences(of: "UserMigration_Authentication", with: "CustomMessage_SignUp")
            let unsupported = try await client.call(.post, "/v1/cognito/triggers", token: w.trigger, json: odd)
            #expect(unsupported.status == 400 && unsupported.code == "unsupported_trigger", "\(unsupported)")
            let noCampaign = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger, json: Self.migrationEvent(pool: w.old, username: "x", password: "y")
            )
            #expect(noCampaign.status == 422 && noCampaign.code == "no_campaign", "\(noCampaign)")
            let garbage = try await client.call(.post, "/v1/cognito/triggers", token: w.trigger, json: #"{"password":"secret-1"}"#)
            #expect(garbage.status == 400 && !garbage.text.contains("secret-1"), "\(garbage)")
            let nul = try await client.call(
                .post, "/v1/cognito/triggers", token: w.trigger,
                json: Self.migrationEvent(pool: w.new, username: "x\\u0000y", password: "z")
            )
            #expect(nul.status == 400, "\(nul)")
        }
    }
}
