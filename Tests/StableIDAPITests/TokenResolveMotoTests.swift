import Cognito
import CryptoPrimitives
import Curl
import Foundation
import HTTPTypes
import IdentityMap
import TestSupport
import Testing

/// `POST /v1/resolve/token` with the tokens moto issues — real RS256 tokens, whose key set moto
/// serves at `<endpoint>/<pool id>/.well-known/jwks.json` while their `iss` names the AWS host:
/// the split the service follows. The service as deployed: keys from the environment's endpoint.
@Suite("Token lookups: tokens from moto", .timeLimit(.minutes(5)))
struct TokenResolveMotoTests {
    struct SignedIn: Sendable {
        var sub: String
        var idToken: String
        var accessToken: String
    }

    /// A confirmed user of `pool` with a password, signed in through `client` (ADMIN_USER_PASSWORD_AUTH).
    static func signIn(_ cognito: CognitoClient, pool: String, client: String, username: String) async throws -> SignedIn {
        let user = try await cognito.createTestUser(
            poolID: pool, username: username, attributes: [AttributeType("email", "\(username)@example.com")])
        try await cognito.adminSetUserPassword(poolID: pool, username: username, password: "Token-Passw0rd!", permanent: true)
        let result = try await cognito.adminInitiateAuth(poolID: pool, clientID: client, username: username, password: "Token-Passw0rd!")
        let tokens = try #require(result.AuthenticationResult)
        return SignedIn(
            sub: try #require(user.attribute("sub")), idToken: try #require(tokens.IdToken), accessToken: try #require(tokens.AccessToken))
    }

    /// The modulus of the key moto signs `pool`'s tokens with, read from the set it serves.
    static func motoModulus(pool: String) async throws -> [UInt8] {
        var endpoint = try #require(ProcessInfo.processInfo.environment["AWS_ENDPOINT_URL"])
        while endpoint.hasSuffix("/") { endpoint.removeLast() }
        let response = try await CurlClient().send(CurlRequest(method: "GET", url: "\(endpoint)/\(pool)/.well-known/jwks.json"))
        let set = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
        let keys = try #require(set["keys"] as? [[String: Any]])
        return try #require((keys.first?["n"] as? String).flatMap { Base64URL.decode($0) })
    }

    @Test(
        "moto's ID and access tokens resolve; a tampered payload, alg none, HS256 with moto's public key, another pool's token and a client outside the allow-list are refused"
    )
    func motoTokens() async throws {
        let f = try await APIFixture.make()
        let cognito = try TriggerFlowTests.World.moto(region: "us-east-1")
        let pool = try await cognito.createUserPool(name: "tokens-\(UUID().uuidString.prefix(6))")
        let app = try await cognito.createUserPoolClient(poolID: pool, name: "web")
        let otherPool = try await cognito.createUserPool(name: "tokens-other-\(UUID().uuidString.prefix(6))")
        let otherApp = try await cognito.createUserPoolClient(poolID: otherPool, name: "web")
        let alice = try await Self.signIn(cognito, pool: pool, client: app, username: "alice")
        let bob = try await Self.signIn(cognito, pool: pool, client: app, username: "bob")
        let carol = try await Self.signIn(cognito, pool: otherPool, client: otherApp, username: "carol")

        // The pool registered (its issuer is the AWS URL moto's tokens name), alice's sub linked,
        // and another person whose sub a tampered token will name. Bob signed in but is not linked;
        // carol's pool is not registered.
        let by = Attribution(actor: .system)
        let poolID = try #require(PoolID(pool))
        _ = try await PoolStore(database: f.db.database).add(id: poolID, attribution: by).run(on: f.db.database)
        let map = IdentityMapStore(database: f.db.database)
        let user = try await map.createUser(identities: [try NewIdentity(pool: poolID, sub: alice.sub, username: "alice")], attribution: by)
            .run(on: f.db.database)
        let mallorySub = testSub("moto-mallory")
        _ = try await map.createUser(identities: [try NewIdentity(pool: poolID, sub: mallorySub, username: "mallory")], attribution: by)
            .run(on: f.db.database)
        let modulus = try await Self.motoModulus(pool: pool)

        let (resolver, admin) = (f.tokens[.resolve]!, f.tokens[.admin]!)
        let userID = user.id.uuidString.lowercased()
        try await f.test { client in
            let id = try await client.resolveToken(alice.idToken, as: resolver)
            #expect(id.status == 200 && id.json["user_id"] as? String == userID, "\(id)")
            let idClaims = id.json["token"] as? [String: Any]
            #expect(idClaims?["token_use"] as? String == "id" && idClaims?["client_id"] as? String == app, "\(id)")
            #expect(idClaims?["iss"] as? String == "https://cognito-idp.us-east-1.amazonaws.com/\(pool)")
            let access = try await client.resolveToken(alice.accessToken, as: resolver)
            #expect(access.status == 200 && access.json["user_id"] as? String == userID, "\(access)")
            let accessClaims = access.json["token"] as? [String: Any]
            #expect(accessClaims?["token_use"] as? String == "access" && accessClaims?["client_id"] as? String == app)
            #expect(accessClaims?["username"] as? String == "alice")

            let unlinked = try await client.resolveToken(bob.idToken, as: resolver)
            #expect(unlinked.status == 404 && unlinked.code == "not_found", "\(unlinked)")
            let foreign = try await client.resolveToken(carol.idToken, as: resolver)
            #expect(foreign.status == 401 && foreign.code == "token_issuer_unknown", "\(foreign)")

            let parts = try #require(TestJWT.parts(of: alice.idToken))
            var claims = parts.claims
            claims["sub"] = mallorySub
            let original = alice.idToken.split(separator: ".").map(String.init)
            let tampered = [original[0], TestJWT.part(claims), original[2]].joined(separator: ".")
            let forged = try await client.resolveToken(tampered, as: resolver)
            #expect(forged.status == 401 && forged.code == "token_signature_invalid", "\(forged)")
            let unsigned = [TestJWT.part(["alg": "none", "kid": "dummy"]), original[1], ""].joined(separator: ".")
            #expect(try await client.resolveToken(unsigned, as: resolver).code == "token_algorithm_not_allowed")
            let confused = TestJWT.make(
                header: ["alg": "HS256", "kid": "dummy"], claims: parts.claims, signature: .hs256(secret: modulus))
            #expect(try await client.resolveToken(confused, as: resolver).code == "token_algorithm_not_allowed")

            // An allow-list without moto's client refuses both tokens; with it, both pass.
            let path = "/v1/pools/\(pool)"
            let narrowed = try await client.call(.patch, path, token: admin, json: #"{"token_client_ids":["someoneElse"]}"#)
            #expect(narrowed.status == 200, "\(narrowed)")
            for token in [alice.idToken, alice.accessToken] {
                let reply = try await client.resolveToken(token, as: resolver)
                #expect(reply.status == 401 && reply.code == "token_audience_not_allowed", "\(reply)")
            }
            #expect(try await client.call(.patch, path, token: admin, json: #"{"token_client_ids":["\#(app)"]}"#).status == 200)
            for token in [alice.idToken, alice.accessToken] {
                #expect(try await client.resolveToken(token, as: resolver).status == 200)
            }
        }
    }
}
