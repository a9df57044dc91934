import Cognito
import CryptoPrimitives
import Foundation
import HTTPTypes
import Synchronization
import TestSupport
import Testing

/// The key sets: what a set keeps, and when the cache fetches one — against the scripted server,
/// with a clock the tests move forward.
@Suite("JWKS cache and verifier", .timeLimit(.minutes(3)))
struct JWKSCacheTests {
    static let path = "/us-east-1_Keys/.well-known/jwks.json"
    static let keyA = TestRSAKey()
    static let keyB = TestRSAKey()

    /// A clock that stands still until a test moves it.
    final class TestClock: Sendable {
        private let instant = Mutex(ContinuousClock.now)
        func now() -> ContinuousClock.Instant { instant.withLock { $0 } }
        func advance(by duration: Duration) { instant.withLock { $0 += duration } }
    }

    static func issuer(_ base: String) -> TokenIssuer {
        TokenIssuer(
            poolID: "us-east-1_Keys", issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Keys", jwksURL: base + path)
    }

    static func cache(_ clock: TestClock) -> JWKSCache {
        JWKSCache(now: { clock.now() })
    }

    static func reply(_ keys: [[String: String]], delay: Duration = .zero) -> ScriptedServer.Reply {
        ScriptedServer.Reply(status: .ok, body: TestJWT.jwks(keys), delay: delay)
    }

    static func outcome(_ cache: JWKSCache, _ kid: String, _ issuer: TokenIssuer) async -> Result<RSAPublicKey, TokenRejection> {
        do throws(TokenRejection) {
            return .success(try await cache.key(kid, of: issuer))
        } catch {
            return .failure(error)
        }
    }

    static func refusal(_ cache: JWKSCache, _ kid: String, _ issuer: TokenIssuer) async -> TokenRejection? {
        if case .failure(let rejection) = await outcome(cache, kid, issuer) { return rejection }
        return nil
    }

    @Test("a pool's keys are on its Cognito endpoint: the override (moto in tests), else the regional host")
    func jwksURL() throws {
        let regional = try CognitoConfiguration.fromEnvironment([:], region: "eu-west-1")
        #expect(
            regional.jwksURL(poolID: "eu-west-1_Abc") == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Abc/.well-known/jwks.json")
        let general = try CognitoConfiguration.fromEnvironment(["AWS_ENDPOINT_URL": "http://127.0.0.1:5000/"], region: "us-east-1")
        #expect(general.jwksURL(poolID: "us-east-1_X") == "http://127.0.0.1:5000/us-east-1_X/.well-known/jwks.json")
        let both = ["AWS_ENDPOINT_URL": "http://127.0.0.1:1", "AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER": "http://127.0.0.1:2"]
        let specific = try CognitoConfiguration.fromEnvironment(both, region: "us-east-1")
        #expect(specific.jwksURL(poolID: "us-east-1_X") == "http://127.0.0.1:2/us-east-1_X/.well-known/jwks.json")
    }

    @Test("a set keeps RSA signing keys of 2048 bits or more with a kid, once each")
    func keySet() throws {
        let small = TestRSAKey(bits: 1024)
        var ec = Self.keyB.jwk(kid: "ec")
        ec["kty"] = "EC"
        let json = TestJWT.jwks([
            Self.keyA.jwk(kid: "a"), Self.keyA.jwk(kid: "plain", use: nil, alg: nil), Self.keyB.jwk(kid: "enc", use: "enc"),
            Self.keyB.jwk(kid: "rs512", alg: "RS512"), small.jwk(kid: "small"), ec, Self.keyA.jwk(kid: "twice"),
            Self.keyB.jwk(kid: "twice"), ["kty": "RSA", "n": "AQAB", "e": "AQAB"], ["kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"],
        ])
        let set = try JSONWebKeySet(json: Array(json.utf8))
        #expect(set.count == 2)
        #expect(set["a"] != nil && set["plain"] != nil)
        for kid in ["enc", "rs512", "small", "ec", "twice", "broken"] { #expect(set[kid] == nil, "\(kid)") }
        #expect(set.skipped == 8)
        #expect(throws: JSONWebKeySet.Malformed.self) { try JSONWebKeySet(json: Array("{\"keys\":{}}".utf8)) }
        #expect(throws: JSONWebKeySet.Malformed.self) { try JSONWebKeySet(json: Array("<html>".utf8)) }
        // A member of an unexpected type spoils that key only.
        let odd = #"{"keys":[{"kty":"RSA","kid":7,"n":"AQAB","e":"AQAB"},"# + TestJWT.json(Self.keyA.jwk(kid: "a")) + "]}"
        #expect(try JSONWebKeySet(json: Array(odd.utf8))["a"] != nil)
    }

    @Test("one fetch serves every key of the set, and callers waiting at once share it")
    func sharedFetch() async throws {
        let slow = Self.reply([Self.keyA.jwk(kid: "a"), Self.keyB.jwk(kid: "b")], delay: .milliseconds(300))
        let server = ScriptedServer([Self.path: [slow]])
        try await server.run { base in
            let cache = Self.cache(TestClock())
            let issuer = Self.issuer(base)
            let found = await withTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask { (try? await cache.key(index.isMultiple(of: 2) ? "a" : "b", of: issuer)) != nil }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(found == 20)
            #expect(await Self.refusal(cache, "a", issuer) == nil)
            #expect(cache.fetches == 1)
            #expect(server.count(path: Self.path) == 1)
        }
    }

    @Test("an unknown kid fetches the set again at most once a minute; a rotated key is then found")
    func unknownKidRefetch() async throws {
        let server = ScriptedServer([
            Self.path: [Self.reply([Self.keyA.jwk(kid: "a")]), Self.reply([Self.keyA.jwk(kid: "a"), Self.keyB.jwk(kid: "b")])]
        ])
        try await server.run { base in
            let clock = TestClock()
            let cache = Self.cache(clock)
            let issuer = Self.issuer(base)
            #expect(await Self.refusal(cache, "a", issuer) == nil)
            // Within the minute, made-up kids cost no request: a flood is answered from memory.
            for index in 0..<50 { #expect(await Self.refusal(cache, "made-up-\(index)", issuer) == .keyUnknown) }
            #expect(await Self.refusal(cache, "b", issuer) == .keyUnknown)
            #expect(server.count(path: Self.path) == 1)
            // A minute on, one unknown kid fetches again: Cognito rotated its keys, and "b" is there.
            clock.advance(by: .seconds(61))
            #expect(await Self.refusal(cache, "b", issuer) == nil)
            #expect(server.count(path: Self.path) == 2)
            for index in 0..<50 { #expect(await Self.refusal(cache, "made-up-\(index)", issuer) == .keyUnknown) }
            clock.advance(by: .seconds(30))
            #expect(await Self.refusal(cache, "made-up", issuer) == .keyUnknown)
            #expect(server.count(path: Self.path) == 2)
            clock.advance(by: .seconds(31))
            #expect(await Self.refusal(cache, "made-up", issuer) == .keyUnknown)
            #expect(server.count(path: Self.path) == 3)
            #expect(cache.fetches == 3)
        }
    }

    @Test("keys that cannot be fetched: 503 material, retried after a few seconds, not at every token")
    func unavailable() async throws {
        let server = ScriptedServer([
            Self.path: [
                ScriptedServer.Reply(status: .internalServerError, body: "oops"), ScriptedServer.Reply(status: .ok, body: "<html>"),
                Self.reply([Self.keyA.jwk(kid: "a")]),
            ]
        ])
        try await server.run { base in
            let clock = TestClock()
            let cache = Self.cache(clock)
            let issuer = Self.issuer(base)
            #expect(await Self.refusal(cache, "a", issuer) == .jwksUnavailable)
            #expect(await Self.refusal(cache, "a", issuer) == .jwksUnavailable)
            #expect(server.count(path: Self.path) == 1)
            clock.advance(by: .seconds(6))
            // Not a key set: as unavailable as no answer.
            #expect(await Self.refusal(cache, "a", issuer) == .jwksUnavailable)
            #expect(server.count(path: Self.path) == 2)
            clock.advance(by: .seconds(6))
            #expect(await Self.refusal(cache, "a", issuer) == nil)
            #expect(server.count(path: Self.path) == 3)
        }
        // Nothing listening at all.
        let cache = JWKSCache(configuration: .init(timeout: .seconds(2)))
        #expect(await Self.refusal(cache, "a", Self.issuer("http://127.0.0.1:1")) == .jwksUnavailable)
    }

    /// A set holding `keyA` as "a", padded with an unknown member to exactly `bytes`.
    static func paddedSet(bytes: Int, filler: String) -> String {
        func set(padding: String) -> String {
            let document: [String: Any] = ["keys": [Self.keyA.jwk(kid: "a")], "padding": padding]
            return TestJWT.json(document)
        }
        let fill = bytes - set(padding: "").utf8.count
        return set(padding: String(String(repeating: filler, count: fill / filler.utf8.count + 1).prefix(fill)))
    }

    @Test(
        "a key set past maxBytes is not read on: jwksUnavailable, and the log names the limit, not the body; one of exactly maxBytes is used"
    )
    func oversized() async throws {
        let limit = JWKSCache.Configuration().maxBytes
        #expect(limit == 64 * 1024)
        let over = Self.paddedSet(bytes: limit + 1, filler: "LEAKED-BODY-")
        let exact = Self.paddedSet(bytes: limit, filler: "x")
        #expect(over.utf8.count == limit + 1 && exact.utf8.count == limit)
        let server = ScriptedServer([
            Self.path: [ScriptedServer.Reply(status: .ok, body: over), ScriptedServer.Reply(status: .ok, body: exact)]
        ])
        try await server.run { base in
            let clock = TestClock()
            let log = RecordedLog()
            let cache = JWKSCache(logger: log.logger(), now: { clock.now() })
            let issuer = Self.issuer(base)
            // Without the limit this would be a usable set (key "a" and an unknown member).
            #expect(await Self.refusal(cache, "a", issuer) == .jwksUnavailable)
            #expect(server.count(path: Self.path) == 1)
            let lines = log.all
            #expect(lines.contains { $0.contains("JWKS fetch failed") && $0.contains("responseTooLarge(limit: \(limit))") }, "\(lines)")
            #expect(!lines.contains { $0.contains("LEAKED") }, "\(lines)")
            // The rejection is the API's 503 with its fixed sentence: nothing of the answer either.
            #expect(!TokenRejection.jwksUnavailable.description.contains("LEAKED"))
            // After the pause a failure imposes, a set of exactly the limit is taken.
            clock.advance(by: .seconds(6))
            #expect(await Self.refusal(cache, "a", issuer) == nil)
            #expect(server.count(path: Self.path) == 2)
        }
    }

    @Test("a set older than an hour is fetched again before use: a withdrawn key stops verifying; a failed refetch keeps the old set")
    func maxAge() async throws {
        let server = ScriptedServer([
            Self.path: [
                Self.reply([Self.keyA.jwk(kid: "a"), Self.keyB.jwk(kid: "b")]),
                ScriptedServer.Reply(status: .serviceUnavailable, body: ""), Self.reply([Self.keyB.jwk(kid: "b")]),
            ]
        ])
        try await server.run { base in
            let clock = TestClock()
            let cache = Self.cache(clock)
            let issuer = Self.issuer(base)
            #expect(await Self.refusal(cache, "a", issuer) == nil)
            clock.advance(by: .seconds(3601))
            // The refetch fails: the keys known still answer (an outage of the key endpoint must
            // not stop every sign-in), and no new fetch is tried for a few seconds.
            #expect(await Self.refusal(cache, "a", issuer) == nil)
            #expect(await Self.refusal(cache, "a", issuer) == nil)
            #expect(server.count(path: Self.path) == 2)
            clock.advance(by: .seconds(6))
            #expect(await Self.refusal(cache, "a", issuer) == .keyUnknown)
            #expect(await Self.refusal(cache, "b", issuer) == nil)
            #expect(server.count(path: Self.path) == 3)
        }
    }

    /// Access-token claims of the test pool, valid for ten minutes from `seconds`, with `changes`.
    static func accessClaims(at seconds: Int, _ changes: [String: Any] = [:]) -> [String: Any] {
        let claims: [String: Any] = [
            "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Keys", "sub": "5b0b5b0b-1111-4222-8333-000000000005",
            "token_use": "access", "client_id": "c1", "exp": seconds + 600, "iat": seconds,
        ]
        return claims.merging(changes) { $1 }
    }

    static func signed(_ claims: [String: Any], kid: String = "a", key: TestRSAKey = JWKSCacheTests.keyA) -> String {
        TestJWT.make(header: ["alg": "RS256", "kid": kid], claims: claims, signature: .rs256(key))
    }

    @Test("the verifier: the key the header names, the signature, then the claims")
    func verifier() async throws {
        let seconds = Int(Date().timeIntervalSince1970)
        let server = ScriptedServer([Self.path: [Self.reply([Self.keyA.jwk(kid: "a")])]])
        try await server.run { base in
            let verifier = CognitoTokenVerifier(keys: Self.cache(TestClock()))
            let issuer = Self.issuer(base)
            func verify(_ text: String) async -> TokenRejection? {
                do throws(TokenRejection) {
                    _ = try await verifier.verify(try CognitoToken(parsing: text), issuer: issuer)
                    return nil
                } catch {
                    return error
                }
            }
            let valid = Self.accessClaims(at: seconds)
            let expired = Self.accessClaims(at: seconds - 3600)
            #expect(await verify(Self.signed(valid)) == nil)
            #expect(await verify(Self.signed(valid, kid: "z")) == .keyUnknown)
            // Signed by another key under the same kid.
            #expect(await verify(Self.signed(valid, key: Self.keyB)) == .signatureInvalid)
            // Expired, and signed: the claims say so. Expired and forged: the signature is what fails.
            #expect(await verify(Self.signed(expired)) == .expired)
            #expect(await verify(Self.signed(expired, key: Self.keyB)) == .signatureInvalid)
            let parts = Self.signed(valid).split(separator: ".").map(String.init)
            let otherClient = TestJWT.part(Self.accessClaims(at: seconds, ["client_id": "c2"]))
            let tampered = [parts[0], otherClient, parts[2]].joined(separator: ".")
            #expect(await verify(tampered) == .signatureInvalid)
        }
    }

    @Test("a remembered token skips only its signature: claims are checked again, and a refetched key set means a full check")
    func memo() async throws {
        let seconds = Int(Date().timeIntervalSince1970)
        let server = ScriptedServer([
            Self.path: [Self.reply([Self.keyA.jwk(kid: "a")]), Self.reply([Self.keyB.jwk(kid: "a")])]
        ])
        try await server.run { base in
            let clock = TestClock()
            let verifier = CognitoTokenVerifier(keys: Self.cache(clock))
            let issuer = Self.issuer(base)
            let memo = VerifiedTokenMemo(capacity: 2)
            let text = Self.signed(Self.accessClaims(at: seconds))
            let token = try CognitoToken(parsing: text)
            let (verified, key) = try await verifier.verifySigned(token, issuer: issuer)
            let digest = VerifiedTokenMemo.Digest(text)
            memo.remember(digest, keyID: token.keyID, claims: token.claims, key: key, now: Int64(seconds))
            let remembered = try #require(memo.entry(digest))
            #expect(memo.entry(VerifiedTokenMemo.Digest(text + "x")) == nil, "another text is another token")
            #expect(try await verifier.recheck(remembered, issuer: issuer) == verified)
            // The claims are checked against the clock each time: an hour later it has expired.
            await #expect(throws: TokenRejection.expired) {
                try await verifier.recheck(remembered, issuer: issuer, now: Date().addingTimeInterval(3600))
            }
            // A set fetched again (an hour on) holds new key objects — here another key under the
            // same kid: the memo no longer vouches, and the full check refuses the signature.
            clock.advance(by: .seconds(3601))
            #expect(try await verifier.recheck(remembered, issuer: issuer) == nil)
            await #expect(throws: TokenRejection.signatureInvalid) { try await verifier.verify(token, issuer: issuer) }
            // Bounded: past its capacity the expired go first, then half of the rest.
            for index in 0..<5 {
                memo.remember(
                    VerifiedTokenMemo.Digest("t\(index)"), keyID: "a", claims: token.claims, key: key, now: Int64(seconds))
            }
            #expect(memo.count <= 2)
        }
    }
}
