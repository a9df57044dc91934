import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IdentityMap
import Postgres
import StableIDAPI
import TestSupport
import Testing

/// Pre token generation answered from the lookup cache (issue 25): a linked sub's token events,
/// every source and version, cost no database round trip — counted on a reader pool of the
/// test's own, which the general path reads for every such event — and answer the bytes the
/// general path answers (the same application with the cache off); everything else still takes
/// the general path: a sub that is not linked yet is linked, one unlinked on purpose gets no claim,
/// a token bound to another pool is refused, odd or malformed events are answered as before.
@Suite("Token events answered from the read model", .timeLimit(.minutes(5)))
struct TriggerTokenMemoryTests {
    static let sources = [
        "TokenGeneration_HostedAuth", "TokenGeneration_Authentication", "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice", "TokenGeneration_RefreshTokens",
    ]

    /// A token event as Cognito sends it (compact), with an escaped attribute value.
    static func tokenEvent(
        pool: String, sub: String, source: String = "TokenGeneration_RefreshTokens", version: String = "2", userName: String = "jane",
        emailVerified: String = #""true""#, extra: String = ""
    ) -> String {
        let response = version == "1" ? #"{"claimsOverrideDetails":null}"# : #"{"claimsAndScopeOverrideDetails":null}"#
        return
            #"{"version":"\#(version)","triggerSource":"\#(source)","region":"us-east-1","userPoolId":"\#(pool)","userName":"\#(userName)","#
            + #""callerContext":{"awsSdkVersion":"aws-sdk-js-3.600.0","clientId":"4k2example"},"request":{"userAttributes":{"sub":"\#(sub)","#
            + #""email_verified":\#(emailVerified),"email":"jane@example.com","name":"Jan\u00e9 \"J\" 名"},"#
            + #""groupConfiguration":{"groupsToOverride":["admins"],"iamRolesToOverride":[],"preferredRole":null},"scopes":["openid"]},"#
            + #""response":\#(response)\#(extra)}"#
    }

    /// The application with a reader pool of its own (its leases are the general path's reads),
    /// and the same application with the lookup cache off: the general path alone, as before.
    struct Rig {
        let f: APIFixture
        let reader: PostgresClient

        static func make() async throws -> Rig {
            let f = try await APIFixture.make()
            return Rig(f: f, reader: PostgresClient(configuration: .init(conninfo: f.db.url, maxConnections: 4)))
        }

        var database: Database { Database(primary: f.db.database.primary, reader: reader) }
        var trigger: String { f.tokens[.trigger]! }

        var generalConfiguration: APIConfiguration {
            var configuration = f.configuration
            configuration.lookupCache = false
            return configuration
        }

        /// A person with one identity in `pool`; their sub and stable ID.
        func linked(_ name: String, pool: String? = nil) async throws -> (sub: String, person: String) {
            let sub = testSub(name)
            let user = try await IdentityMapStore(database: f.db.database).createUser(
                identities: [try NewIdentity(pool: PoolID(pool ?? f.old)!, sub: sub, username: name)],
                attribution: Attribution(actor: .system)
            ).run(on: f.db.database)
            return (sub, user.id.uuidString.lowercased())
        }

        /// Posts `events` one after another with `token`: the replies, the reader leases taken
        /// meanwhile, and how many lookups the cache counted as hits.
        func send(
            _ events: [String], to client: any TestClientProtocol, token: String? = nil
        ) async throws -> (
            replies: [Reply], readerLeases: Int, hits: Double
        ) {
            let hitName = #"stableid_lookup_cache_lookups_total{result="hit"}"#
            // /metrics reads the reader (the last reconciliation): scraped outside the counted window.
            let hitsBefore = LookupCacheRouteTests.sample(try await client.call(.get, "/metrics").text, hitName)
            let before = reader.statistics.leases
            var replies: [Reply] = []
            for event in events {
                replies.append(try await client.call(.post, "/v1/cognito/triggers", token: token ?? trigger, json: event))
            }
            let leases = reader.statistics.leases - before
            let hitsAfter = LookupCacheRouteTests.sample(try await client.call(.get, "/metrics").text, hitName)
            return (replies, leases, hitsAfter - hitsBefore)
        }

        /// Sends `events` until one round is answered wholly from memory (no reader lease, a hit
        /// each): the follower must have caught up first, and on a busy machine it may fall behind
        /// its staleness bound for a moment. The replies of that round; nil if none was.
        func fromMemory(_ events: [String], to client: any TestClientProtocol, token: String? = nil) async throws -> [Reply]? {
            var answered: [Reply]?
            _ = try await waitUntil(within: .seconds(30), every: .milliseconds(50)) {
                let round = try await send(events, to: client, token: token)
                if round.readerLeases == 0 && round.hits >= Double(events.count) { answered = round.replies }
                return answered != nil
            }
            return answered
        }
    }

    @Test(
        "a linked sub's token events — every source, versions 1 to 3, a disabled identity, an erased person — come from memory, with the general path's bytes"
    )
    func linkedFromMemory() async throws {
        let rig = try await Rig.make()
        defer { rig.reader.shutdown() }
        let jane = try await rig.linked("jane")
        let dora = try await rig.linked("dora")
        let erin = try await rig.linked("erin")
        try rig.f.db.connect().execute("UPDATE identities SET status = 'disabled' WHERE sub = \(dora.sub)")
        var events: [(person: String, text: String)] = []
        for person in [jane, dora, erin] {
            for (index, source) in Self.sources.enumerated() {
                events.append(
                    (person.person, Self.tokenEvent(pool: rig.f.old, sub: person.sub, source: source, version: ["1", "2", "3"][index % 3])))
            }
        }
        let texts = events.map(\.text)
        let fromMemory = try await rig.f.app(database: rig.database).test(.router) { memory -> [Reply]? in
            let erased = try await memory.call(.delete, "/v1/users/\(erin.person)/personal-data", token: rig.f.tokens[.admin]!)
            #expect(erased.status == 200, "\(erased)")
            return try await rig.fromMemory(texts, to: memory)
        }
        let answers = try #require(fromMemory, "no round of token events was answered from memory alone")
        let general = try await rig.f.app(configuration: rig.generalConfiguration).test(.router) { general in
            try await rig.send(texts, to: general).replies
        }
        for ((person, text), (memory, expected)) in zip(events, zip(answers, general)) {
            #expect(memory.status == 200 && memory.text.contains(#""stable_id":"\#(person)""#), "\(memory)")
            #expect(memory.text == expected.text, "memory and the general path differ for \(text)")
            #expect(memory.headers[.contentType] == "application/json")
        }
        #expect(answers.count == 15 && general.count == 15)
    }

    @Test(
        "a sub not linked yet is linked by its first token (the write path), then answered from memory; one unlinked on purpose gets no claim"
    )
    func firstTokenLinks() async throws {
        let rig = try await Rig.make()
        defer { rig.reader.shutdown() }
        let sub = testSub("first-token")
        let event = Self.tokenEvent(pool: rig.f.old, sub: sub)
        try await rig.f.app(database: rig.database).test(.router) { client in
            let first = try await client.call(.post, "/v1/cognito/triggers", token: rig.trigger, json: event)
            #expect(first.status == 200, "\(first)")
            let resolved = try await client.call(.get, "/v1/resolve?pool=\(rig.f.old)&sub=\(sub)", token: rig.f.tokens[.resolve]!)
            let person = try #require(resolved.json["user_id"] as? String, "the first token linked nobody: \(resolved)")
            #expect(first.text.contains(#""stable_id":"\#(person)""#), "\(first)")
            let again = try #require(try await rig.fromMemory([event], to: client), "the linked sub's next token did not come from memory")
            #expect(again.first?.text == first.text)

            // Unlinked on purpose: memory no longer has it, and the general path leaves it unlinked.
            let unlinked = try await client.call(
                .delete, "/v1/users/\(person)/identities/\(rig.f.old)/\(sub)", token: rig.f.tokens[.write]!)
            #expect(unlinked.status == 200, "\(unlinked)")
            let token = try await client.call(.post, "/v1/cognito/triggers", token: rig.trigger, json: event)
            #expect(token.status == 200 && !token.text.contains("stable_id"), "\(token)")
        }
        #expect(try rig.f.db.count("identities", where: "sub = '\(sub)'") == 1)
        #expect(try rig.f.db.count("events", where: "kind = 'identity_linked' AND sub = '\(sub)'") == 1)
    }

    @Test("from memory too: a bound token is refused for another pool; odd shapes and malformed events get the general path's answer")
    func refusalsAndOddShapes() async throws {
        let rig = try await Rig.make()
        defer { rig.reader.shutdown() }
        let jane = try await rig.linked("jane")
        let nina = try await rig.linked("nina", pool: rig.f.new)
        let bound = try await TriggerTokenPoolTests.bindToken(rig.f, name: "fwd-old", pools: [PoolID(rig.f.old)!])
        let odd = [
            // A number: the fast path leaves numbers to the general path's decoder.
            Self.tokenEvent(pool: rig.f.old, sub: jane.sub, extra: #","futureCount":3"#),
            // Malformed: a boolean attribute (400), a user name with a control character (400).
            Self.tokenEvent(pool: rig.f.old, sub: jane.sub, emailVerified: "true"),
            Self.tokenEvent(pool: rig.f.old, sub: jane.sub, userName: #"ja\u0001ne"#),
            // Not a sub, an unknown pool.
            Self.tokenEvent(pool: rig.f.old, sub: "not-a-sub"),
            Self.tokenEvent(pool: "us-east-1_Unknown", sub: jane.sub),
        ]
        let (memoryReplies, leases) = try await rig.f.app(database: rig.database).test(.router) { client -> ([Reply], Int) in
            // The bound token's own pool is answered from memory.
            let own = try #require(
                try await rig.fromMemory([Self.tokenEvent(pool: rig.f.old, sub: jane.sub)], to: client, token: bound),
                "memory never answered the bound token's own pool")
            #expect(own.first?.text.contains(jane.person) == true)
            // Another pool: 403 whatever memory holds, and nothing from it.
            _ = try await rig.fromMemory([Self.tokenEvent(pool: rig.f.new, sub: nina.sub)], to: client)
            let other = try await client.call(
                .post, "/v1/cognito/triggers", token: bound, json: Self.tokenEvent(pool: rig.f.new, sub: nina.sub))
            #expect(other.status == 403 && other.code == "pool_not_allowed" && !other.text.contains(nina.person), "\(other)")
            let round = try await rig.send(odd, to: client)
            return (round.replies, round.readerLeases)
        }
        #expect(leases >= 1, "the odd event of a linked sub read the database (the general path)")
        let general = try await rig.f.app(configuration: rig.generalConfiguration).test(.router) { client in
            try await rig.send(odd, to: client).replies
        }
        #expect(memoryReplies.map(\.status) == [200, 400, 400, 400, 422])
        for (memory, expected) in zip(memoryReplies, general) {
            #expect(memory.status == expected.status && memory.text == expected.text, "\(memory) ≠ \(expected)")
        }
        #expect(memoryReplies.first?.text.contains(#""stable_id":"\#(jane.person)""#) == true)
    }
}
