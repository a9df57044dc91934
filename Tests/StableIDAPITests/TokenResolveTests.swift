import CognitoIngest
import CryptoPrimitives
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import IdentityMap
import StableIDAPI
import TestSupport
import Testing

/// `POST /v1/resolve/token` with tokens made by hand and signed by keys the test serves (a
/// ``KeyServer`` stands where Cognito's endpoint would be): every check and its code, the answer,
/// the allow-list of app clients, and how often keys are fetched.
@Suite("Token lookups: hand-made tokens", .timeLimit(.minutes(4)))
struct TokenResolveTests {
    static let pool = "us-east-1_Hand"
    static let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Hand"
    static let keysPath = "/us-east-1_Hand/.well-known/jwks.json"
    static let key = TestRSAKey()
    /// Served under kid "small": below 2048 bits, so no key at all.
    static let smallKey = TestRSAKey(bits: 1024)
    static let aliceSub = testSub("token-alice")

    /// A migrated database with the pool registered and alice's sub linked, and the pool's keys
    /// (kid "a", and the small key) on a key server.
    struct World {
        let f: APIFixture
        let keys: KeyServer
        let userID: String
        var resolver: String { f.tokens[.resolve]! }
        var admin: String { f.tokens[.admin]! }

        static func make() async throws -> World {
            let f = try await APIFixture.make()
            let by = Attribution(actor: .system)
            let pool = try #require(PoolID(TokenResolveTests.pool))
            _ = try await PoolStore(database: f.db.database).add(id: pool, attribution: by).run(on: f.db.database)
            let alice = try NewIdentity(
                pool: pool, sub: TokenResolveTests.aliceSub, username: "alice", email: "alice@example.com", emailVerified: true)
            let user = try await IdentityMapStore(database: f.db.database).createUser(identities: [alice], attribution: by)
                .run(on: f.db.database)
            let set = TestJWT.jwks([TokenResolveTests.key.jwk(kid: "a"), TokenResolveTests.smallKey.jwk(kid: "small")])
            let keys = KeyServer([TokenResolveTests.keysPath: set])
            return World(f: f, keys: keys, userID: user.id.uuidString.lowercased())
        }

        /// Runs `body` with a client of the service, whose token lookups fetch keys from the key
        /// server; passes the server's base URL.
        func run<T: Sendable>(
            configuration: APIConfiguration? = nil, _ body: @escaping @Sendable (any TestClientProtocol, String) async throws -> T
        ) async throws -> T {
            let f = self.f
            return try await keys.run { base in
                let verification = TokenVerification(clients: PoolClients(environment: ["AWS_ENDPOINT_URL": base]))
                return try await f.app(configuration: configuration, tokenVerification: verification).test(.router) { client in
                    try await body(client, base)
                }
            }
        }
    }

    /// ID-token claims as Cognito writes them (with an email, which no answer may repeat).
    static func claims(_ changes: [String: Any] = [:], sub: String = TokenResolveTests.aliceSub) -> [String: Any] {
        let now = Int(Date().timeIntervalSince1970)
        let claims: [String: Any] = [
            "iss": issuer, "sub": sub, "token_use": "id", "aud": "client1", "exp": now + 600, "iat": now - 5, "auth_time": now - 5,
            "cognito:username": "alice", "email": "alice@example.com",
        ]
        return claims.merging(changes) { $1 }
    }

    static func signed(_ claims: [String: Any], kid: String = "a", key: TestRSAKey = TokenResolveTests.key) -> String {
        TestJWT.make(header: ["alg": "RS256", "kid": kid], claims: claims, signature: .rs256(key))
    }

    @Test("a verified ID or access token answers what GET /v1/resolve answers, with the checked claims; an unlinked sub is 404")
    func resolves() async throws {
        let w = try await World.make()
        let resolver = w.resolver
        try await w.run { client, _ in
            let id = try await client.resolveToken(Self.signed(Self.claims()), as: resolver)
            #expect(id.status == 200, "\(id)")
            #expect(id.json["user_id"] as? String == w.userID)
            let claims = try #require(id.json["token"] as? [String: Any], "\(id)")
            #expect(claims["pool"] as? String == Self.pool && claims["iss"] as? String == Self.issuer)
            #expect(claims["sub"] as? String == Self.aliceSub && claims["token_use"] as? String == "id")
            #expect(claims["client_id"] as? String == "client1" && claims["username"] as? String == "alice")
            #expect(claims["exp"] as? Int != nil && claims["iat"] as? Int != nil && claims["auth_time"] as? Int != nil)
            #expect(Set(claims.keys) == ["auth_time", "client_id", "exp", "iat", "iss", "pool", "sub", "token_use", "username"])

            // The same resolution as the lookup by sub, `token` in its sorted place.
            let bySub = try await client.call(.get, "/v1/resolve?pool=\(Self.pool)&sub=\(Self.aliceSub)", token: resolver)
            var resolution = id.json
            resolution["token"] = nil
            #expect(NSDictionary(dictionary: resolution) == NSDictionary(dictionary: bySub.json), "\(id) vs \(bySub)")
            let status = try #require(id.text.range(of: #"},"status":"#))
            let token = try #require(id.text.range(of: #","token":{"#))
            let user = try #require(id.text.range(of: #","user_id":"#))
            #expect(status.lowerBound < token.lowerBound && token.lowerBound < user.lowerBound, "\(id)")

            let access = try await client.resolveToken(
                Self.signed(Self.claims(["token_use": "access", "client_id": "client2", "aud": NSNull(), "username": "alice"])),
                as: resolver)
            #expect(access.status == 200 && access.json["user_id"] as? String == w.userID, "\(access)")
            let accessClaims = access.json["token"] as? [String: Any]
            #expect(accessClaims?["token_use"] as? String == "access" && accessClaims?["client_id"] as? String == "client2")

            let unlinked = try await client.resolveToken(Self.signed(Self.claims(sub: testSub("token-nobody"))), as: resolver)
            #expect(unlinked.status == 404 && unlinked.code == "not_found" && unlinked.isProblem, "\(unlinked)")
        }
    }

    @Test("the answer written from the lookup cache is byte for byte the one written from PostgreSQL")
    func memoryAndDatabaseAgree() async throws {
        let w = try await World.make()
        let token = Self.signed(Self.claims())
        let resolver = w.resolver
        let cold = APIConfiguration(databaseURL: w.f.db.url, lookupCache: false)
        let fromDatabase = try await w.run(configuration: cold) { client, _ in
            try await client.resolveToken(token, as: resolver).text
        }
        let fromMemory = try await w.run { client, _ in
            let live = try await waitUntil(within: .seconds(20)) {
                let metrics = try await client.call(.get, "/metrics").text
                return LookupCacheRouteTests.sample(metrics, #"stableid_lookup_cache_state{state="live"}"#) == 1
            }
            try #require(live, "the lookup cache never went live")
            let hit = #"stableid_lookup_cache_lookups_total{result="hit"}"#
            let before = LookupCacheRouteTests.sample(try await client.call(.get, "/metrics").text, hit)
            let reply = try await client.resolveToken(token, as: resolver)
            let after = LookupCacheRouteTests.sample(try await client.call(.get, "/metrics").text, hit)
            #expect(after == before + 1, "not answered from memory")
            return reply.text
        }
        #expect(fromMemory == fromDatabase)
        #expect(fromDatabase.contains(#""token":{"#))
    }

    /// The token's parts longer than a few characters: none may appear in a problem's text.
    static func parts(of token: String) -> [String] {
        token.split(separator: ".").map(String.init).filter { $0.count > 8 }
    }

    @Test("each check refuses with its own code, and no answer repeats the token")
    func refusals() async throws {
        let w = try await World.make()
        let resolver = w.resolver
        let now = Int(Date().timeIntervalSince1970)
        let claims = Self.claims()
        let otherKey = TestRSAKey()
        let valid = Self.signed(claims)
        let validParts = valid.split(separator: ".").map(String.init)
        let tampered = [validParts[0], TestJWT.part(Self.claims(sub: testSub("token-mallory"))), validParts[2]].joined(separator: ".")
        let unsigned = [TestJWT.part(["alg": "none", "kid": "a"]), TestJWT.part(claims), ""].joined(separator: ".")
        // HS256 with the public key as the HMAC secret: the key confusion attack.
        let confused = TestJWT.make(header: ["alg": "HS256", "kid": "a"], claims: claims, signature: .hs256(secret: Self.key.modulus))
        let notJSON = [validParts[0], Base64URL.encode(Array("not json".utf8)), validParts[2]].joined(separator: ".")
        let unregistered = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Unregistered"
        let cases: [(token: String, status: Int, code: String)] = [
            (Self.signed(Self.claims(["exp": now - 3600, "iat": now - 7200])), 401, "token_expired"),
            (Self.signed(Self.claims(["iat": now + 3600])), 401, "token_not_yet_valid"),
            (Self.signed(Self.claims(["nbf": now + 3600])), 401, "token_not_yet_valid"),
            (Self.signed(claims, kid: "unknown"), 401, "token_key_unknown"),
            (Self.signed(claims, kid: "small", key: Self.smallKey), 401, "token_key_unknown"),
            (Self.signed(claims, key: otherKey), 401, "token_signature_invalid"),
            // The payload of another sub under the original signature.
            (tampered, 401, "token_signature_invalid"),
            (unsigned, 401, "token_algorithm_not_allowed"),
            (confused, 401, "token_algorithm_not_allowed"),
            (Self.signed(Self.claims(["token_use": "refresh"])), 401, "token_use_invalid"),
            (Self.signed(Self.claims(["token_use": "unknown"])), 401, "token_use_invalid"),
            (Self.signed(Self.claims(["iss": unregistered])), 401, "token_issuer_unknown"),
            (Self.signed(Self.claims(["aud": NSNull()])), 401, "token_audience_not_allowed"),
            (Self.signed(Self.claims(sub: "alice")), 401, "token_malformed"),
            (notJSON, 401, "token_malformed"),
            ("not-a-token", 400, "invalid_token_format"),
            (valid + ".extra", 400, "invalid_token_format"),
        ]
        try await w.run { client, _ in
            for (token, status, code) in cases {
                let reply = try await client.resolveToken(token, as: resolver)
                #expect(reply.status == status && reply.code == code && reply.isProblem, "\(code): \(reply)")
                #expect(reply.headers[.wwwAuthenticate] == nil)
                for part in Self.parts(of: token) { #expect(!reply.text.contains(part), "\(code) repeats the token") }
            }
            // The body itself must be {"token": "<string>"}.
            for body in [#"{"token":5}"#, #"{}"#, #"{"jwt":"a.b.c"}"#, ""] {
                let reply = try await client.call(.post, "/v1/resolve/token", token: resolver, json: body)
                #expect(reply.status == 400 && reply.code == "invalid_request", "\(body): \(reply)")
            }
            // Every outcome is counted.
            #expect(try await client.resolveToken(valid, as: resolver).status == 200)
            let metrics = try await client.call(.get, "/metrics").text
            let count = { (outcome: String) in
                LookupCacheRouteTests.sample(metrics, #"stableid_token_verifications_total{outcome="\#(outcome)"}"#)
            }
            #expect(count("verified") == 1 && count("expired") == 1 && count("not_yet_valid") == 2 && count("key_unknown") == 2)
            #expect(count("signature_invalid") == 2 && count("algorithm_not_allowed") == 2 && count("not_compact") == 2)
            #expect(count("use_invalid") == 2 && count("issuer_unknown") == 1 && count("malformed") == 2)
            #expect(count("audience_not_allowed") == 1 && count("jwks_unavailable") == 0)
            #expect(metrics.contains(#"stableid_token_verifications_total{outcome="jwks_unavailable"} 0"#), "\(metrics)")
        }
    }

    @Test("a pool's allow-list of app clients, set, lifted and refused over HTTP")
    func allowList() async throws {
        let w = try await World.make()
        let (resolver, admin) = (w.resolver, w.admin)
        let idToken = Self.signed(Self.claims())
        let accessToken = Self.signed(Self.claims(["token_use": "access", "client_id": "client2", "aud": NSNull()]))
        try await w.run { client, _ in
            let path = "/v1/pools/\(Self.pool)"
            let set = try await client.call(.patch, path, token: admin, json: #"{"token_client_ids":["client3","client2","client2"]}"#)
            #expect(set.status == 200 && set.json["token_client_ids"] as? [String] == ["client2", "client3"], "\(set)")
            let refused = try await client.resolveToken(idToken, as: resolver)
            #expect(refused.status == 401 && refused.code == "token_audience_not_allowed", "\(refused)")
            #expect(try await client.resolveToken(accessToken, as: resolver).status == 200)

            let lifted = try await client.call(.patch, path, token: admin, json: #"{"any_token_client":true}"#)
            #expect(lifted.status == 200 && lifted.json["token_client_ids"] == nil, "\(lifted)")
            #expect(try await client.resolveToken(idToken, as: resolver).status == 200)
            // Lifted again: nothing changes, no event.
            #expect(try await client.call(.patch, path, token: admin, json: #"{"any_token_client":true}"#).status == 200)

            let refusedBodies = [
                #"{}"#, #"{"token_client_ids":[]}"#, #"{"token_client_ids":["a b"]}"#, #"{"any_token_client":false}"#,
                #"{"token_client_ids":["c"],"any_token_client":true}"#,
            ]
            for body in refusedBodies {
                let reply = try await client.call(.patch, path, token: admin, json: body)
                #expect(reply.status == 400 && reply.code == "invalid_request", "\(body): \(reply)")
            }
            let unknown = try await client.call(.patch, "/v1/pools/us-east-1_Nope", token: admin, json: #"{"any_token_client":true}"#)
            #expect(unknown.status == 404 && unknown.code == "not_found", "\(unknown)")
            #expect(try await client.call(.patch, path, token: resolver, json: #"{"any_token_client":true}"#).status == 403)

            let added = try await client.call(
                .post, "/v1/pools", token: admin, json: #"{"id":"eu-west-1_Listed","token_client_ids":["web"]}"#)
            #expect(added.status == 201 && added.json["token_client_ids"] as? [String] == ["web"], "\(added)")
            let listed = try await client.call(.get, "/v1/pools", token: admin)
            let pools = listed.json["pools"] as? [[String: Any]] ?? []
            #expect(pools.first { $0["id"] as? String == "eu-west-1_Listed" }?["token_client_ids"] as? [String] == ["web"])
        }
        #expect(try w.f.db.count("events", where: "kind = 'pool_token_clients_changed'") == 2)
        #expect(try w.f.db.count("events", where: "kind = 'pool_added' AND details->'token_client_ids' = '[\"web\"]'") == 1)
    }

    @Test("made-up key ids cost one key fetch a minute; keys that cannot be fetched answer 503 with Retry-After")
    func keyFetches() async throws {
        let w = try await World.make()
        let resolver = w.resolver
        let by = Attribution(actor: .system)
        _ = try await PoolStore(database: w.f.db.database).add(id: PoolID("us-east-1_Dark")!, attribution: by).run(on: w.f.db.database)
        let good = Self.signed(Self.claims())
        let madeUp = (0..<30).map { Self.signed(Self.claims(), kid: "made-up-\($0)") }
        let dark = Self.signed(Self.claims(["iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Dark"]))
        let keys = w.keys
        try await w.run { client, _ in
            #expect(try await client.resolveToken(good, as: resolver).status == 200)
            for index in 0..<30 {
                let reply = try await client.resolveToken(madeUp[index], as: resolver)
                #expect(reply.code == "token_key_unknown", "\(reply)")
            }
            #expect(keys.count(Self.keysPath) == 1, "a made-up kid fetched the keys again")

            // A registered pool whose keys are nowhere to be had: 503, and no fetch at every token.
            for _ in 0..<3 {
                let reply = try await client.resolveToken(dark, as: resolver)
                #expect(reply.status == 503 && reply.code == "jwks_unavailable" && reply.headers[.retryAfter] == "5", "\(reply)")
            }
            #expect(keys.count("/us-east-1_Dark/.well-known/jwks.json") == 1)
        }
    }
}

extension TestClientProtocol {
    /// `POST /v1/resolve/token` with `{"token": token}`.
    func resolveToken(_ token: String, as bearer: String) async throws -> Reply {
        try await call(.post, "/v1/resolve/token", token: bearer, json: TestJWT.json(["token": token]))
    }
}
