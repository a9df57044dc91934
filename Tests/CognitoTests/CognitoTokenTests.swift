import Cognito
import CryptoPrimitives
import Foundation
import TestSupport
import Testing

/// Token parsing and the claims check, pure: hand-made tokens, no network.
@Suite("Cognito tokens: parsing and claims", .timeLimit(.minutes(2)))
struct CognitoTokenTests {
    static let key = TestRSAKey()
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let seconds = 1_800_000_000
    static let issuer = TokenIssuer(
        poolID: "us-east-1_Test", issuer: "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Test",
        jwksURL: "http://127.0.0.1:1/us-east-1_Test/.well-known/jwks.json"
    )
    static let sub = "5b0b5b0b-1111-4222-8333-000000000005"

    /// The claims of a Cognito ID token (`token_use` `id`, the client as `aud`), with `changes`.
    static func idClaims(_ changes: [String: Any] = [:]) -> [String: Any] {
        var claims: [String: Any] = [
            "iss": issuer.issuer, "sub": sub, "token_use": "id", "aud": "client1", "exp": seconds + 3600, "iat": seconds - 10,
            "auth_time": seconds - 10, "cognito:username": "alice", "email": "alice@example.com",
        ]
        claims.merge(changes) { $1 }
        return claims
    }

    static func token(header: [String: Any] = ["alg": "RS256", "kid": "k1"], claims: [String: Any]) -> String {
        TestJWT.make(header: header, claims: claims, signature: .rs256(key))
    }

    static func rejection(_ text: String) -> TokenRejection? {
        do throws(TokenRejection) {
            _ = try CognitoToken(parsing: text)
            return nil
        } catch {
            return error
        }
    }

    @Test("only three base64url parts of at most 16 KiB are a token's form")
    func compactForm() {
        let valid = Self.token(claims: Self.idClaims())
        #expect(CognitoToken.isCompact(valid))
        let parts = valid.split(separator: ".").map(String.init)
        let padded = [parts[0] + "=", parts[1], parts[2]].joined(separator: ".")
        let long = Self.token(claims: Self.idClaims(["pad": String(repeating: "x", count: CognitoToken.maxLength)]))
        let texts: [String] = [
            "", "a.b", "a.b.c.d", ".b.c", "a..c", padded, valid + " ", "a.b.c+", "a.b.c/", valid.replacingOccurrences(of: ".", with: ","),
            long,
        ]
        for text in texts {
            #expect(!CognitoToken.isCompact(text))
            #expect(Self.rejection(text) == .notCompact, "\(text.prefix(40))")
        }
        // An empty signature is still the form (`alg: none` tokens have one).
        #expect(CognitoToken.isCompact([parts[0], parts[1], ""].joined(separator: ".")))
    }

    @Test("the header must ask for RS256 with a key id and no critical extensions, before anything else is read")
    func header() {
        let claims = Self.idClaims()
        let unsigned = [TestJWT.part(["alg": "none", "kid": "k1"]), TestJWT.part(claims), ""].joined(separator: ".")
        #expect(Self.rejection(unsigned) == .algorithmNotAllowed)
        // The HS256 confusion attack: an HMAC over the token with the public key's bytes as the secret.
        let confused = TestJWT.make(
            header: ["alg": "HS256", "kid": "k1"], claims: claims, signature: .hs256(secret: Self.key.modulus))
        #expect(Self.rejection(confused) == .algorithmNotAllowed)
        for header: [String: Any] in [
            ["alg": "rs256", "kid": "k1"], ["alg": "RS512", "kid": "k1"], ["alg": "PS256", "kid": "k1"], ["kid": "k1"],
            ["alg": "RS256", "kid": "k1", "crit": ["exp"]],
        ] {
            #expect(Self.rejection(Self.token(header: header, claims: claims)) == .algorithmNotAllowed, "\(header)")
        }
        for header: [String: Any] in [["alg": "RS256"], ["alg": "RS256", "kid": ""]] {
            #expect(Self.rejection(Self.token(header: header, claims: claims)) == .keyUnknown, "\(header)")
        }
        // The header is judged before the payload: a garbage payload under `alg: none` is still that.
        #expect(Self.rejection([TestJWT.part(["alg": "none"]), "AAAA", ""].joined(separator: ".")) == .algorithmNotAllowed)
    }

    @Test("parts that are not base64url JSON objects, or claims of the wrong JSON type, are malformed")
    func malformed() {
        let header = TestJWT.part(["alg": "RS256", "kid": "k1"])
        let payload = TestJWT.part(Self.idClaims())
        let notJSON = Base64URL.encode(Array("not json".utf8))
        let array = Base64URL.encode(Array("[1,2]".utf8))
        func join(_ parts: String...) -> String { parts.joined(separator: ".") }
        let texts: [String] = [
            join(notJSON, payload, "AAAA"), join(header, notJSON, "AAAA"), join(header, array, "AAAA"), join(array, payload, "AAAA"),
            // A signature whose unused bits are set: a second spelling of the same bytes.
            join(header, payload, "Zh"),
            Self.token(claims: Self.idClaims(["exp": "tomorrow"])), Self.token(claims: Self.idClaims(["sub": 5])),
            Self.token(claims: Self.idClaims(["aud": [1]])), Self.token(claims: Self.idClaims(["exp": 1e300])),
            Self.token(header: ["alg": 1, "kid": "k1"], claims: Self.idClaims()),
        ]
        for text in texts {
            #expect(Self.rejection(text) == .malformed, "\(text.prefix(60))")
        }
    }

    @Test("a claim this service reads may appear once: a payload or header naming it twice is malformed, other claims are skipped")
    func repeatedClaims() {
        let header = TestJWT.part(["alg": "RS256", "kid": "k1"])
        func payload(_ json: String) -> String { Base64URL.encode(Array(json.utf8)) }
        let iss = Self.issuer.issuer
        let twice = [
            #"{"iss":"\#(iss)","sub":"\#(Self.sub)","sub":"6b0b5b0b-1111-4222-8333-000000000006","exp":1}"#,
            #"{"iss":"\#(iss)","exp":1,"exp":99999999999}"#,
        ]
        for json in twice {
            #expect(Self.rejection([header, payload(json), "AAAA"].joined(separator: ".")) == .malformed, "\(json)")
        }
        let repeatedHeader = Base64URL.encode(Array(#"{"alg":"RS256","kid":"k1","kid":"k2"}"#.utf8))
        #expect(Self.rejection([repeatedHeader, TestJWT.part(Self.idClaims()), "AAAA"].joined(separator: ".")) == .malformed)
        // Claims nobody reads may repeat or be anything: `email` twice, nested groups.
        let other = #"{"iss":"\#(iss)","sub":"\#(Self.sub)","email":"a@x","email":"b@x","cognito:groups":[{"x":[1,null]}]}"#
        #expect(Self.rejection([header, payload(other), "AAAA"].joined(separator: ".")) == nil)
        // Trailing bytes after the object are not a JSON object.
        #expect(Self.rejection([header, payload(#"{"iss":"\#(iss)"} x"#), "AAAA"].joined(separator: ".")) == .malformed)
    }

    @Test("the claims read: aud as a string or an array, the username of either kind of token, times in whole seconds")
    func claimsRead() throws {
        let id = try CognitoToken(parsing: Self.token(claims: Self.idClaims(["exp": Double(Self.seconds) + 0.75])))
        #expect(id.keyID == "k1")
        #expect(
            id.claims
                == CognitoTokenClaims(
                    issuer: Self.issuer.issuer, subject: Self.sub, tokenUse: "id", audience: ["client1"],
                    expiresAt: Int64(Self.seconds), issuedAt: Int64(Self.seconds - 10), authTime: Int64(Self.seconds - 10),
                    username: "alice"))
        let access = try CognitoToken(
            parsing: Self.token(claims: [
                "iss": Self.issuer.issuer, "sub": Self.sub, "token_use": "access", "client_id": "client1", "username": "alice",
                "exp": Self.seconds, "iat": Self.seconds, "aud": ["a", "b"], "nbf": NSNull(),
            ]))
        #expect(access.claims.clientID == "client1" && access.claims.username == "alice" && access.claims.audience == ["a", "b"])
        #expect(access.claims.notBefore == nil)
    }

    @Test("a signature verifies with the signing key only, over the header and payload exactly as sent")
    func signature() throws {
        let text = Self.token(claims: Self.idClaims())
        let token = try CognitoToken(parsing: text)
        let signer = try Self.key.publicKey
        let stranger = try TestRSAKey().publicKey
        #expect(token.isSigned(by: signer))
        #expect(!token.isSigned(by: stranger))
        // The payload altered (another sub) under the original signature.
        let parts = text.split(separator: ".").map(String.init)
        let otherSub = TestJWT.part(Self.idClaims(["sub": "00000000-0000-4000-8000-000000000000"]))
        let altered = [parts[0], otherSub, parts[2]].joined(separator: ".")
        let alteredToken = try CognitoToken(parsing: altered)
        #expect(!alteredToken.isSigned(by: signer))
    }

    // MARK: The claims check

    static func check(
        _ claims: [String: Any], allowed: Set<String>? = nil, now: Date = CognitoTokenTests.now
    ) throws(TokenRejection) -> VerifiedToken {
        var issuer = Self.issuer
        issuer.allowedClientIDs = allowed
        let token = try CognitoToken(parsing: Self.token(claims: claims))
        return try TokenClaimsCheck(issuer: issuer).check(token.claims, now: now)
    }

    static func refusal(_ claims: [String: Any], allowed: Set<String>? = nil, now: Date = CognitoTokenTests.now) -> TokenRejection? {
        do throws(TokenRejection) {
            _ = try check(claims, allowed: allowed, now: now)
            return nil
        } catch {
            return error
        }
    }

    @Test("ID and access tokens of the pool pass, naming their app client")
    func accepted() throws {
        let id = try Self.check(Self.idClaims())
        #expect(
            id
                == VerifiedToken(
                    poolID: "us-east-1_Test", issuer: Self.issuer.issuer, subject: Self.sub, use: .id, clientID: "client1",
                    expiresAt: Int64(Self.seconds + 3600), issuedAt: Int64(Self.seconds - 10), authTime: Int64(Self.seconds - 10),
                    username: "alice"))
        let access = try Self.check(
            Self.idClaims(["token_use": "access", "client_id": "client2", "aud": NSNull(), "username": "alice"]), allowed: ["client2"])
        #expect(access.use == .access && access.clientID == "client2")
    }

    @Test("issuer, expiry, issue and not-before times with 60 s of leeway")
    func times() {
        #expect(Self.refusal(Self.idClaims(["iss": Self.issuer.issuer + "/"])) == .issuerUnknown)
        #expect(Self.refusal(Self.idClaims(["iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Other"])) == .issuerUnknown)
        #expect(Self.refusal(Self.idClaims(["iss": NSNull()])) == .issuerUnknown)
        // Expired 59 s ago: within the leeway; 60 s ago: not (RFC 7519: not on or after exp).
        #expect(Self.refusal(Self.idClaims(["exp": Self.seconds - 59])) == nil)
        #expect(Self.refusal(Self.idClaims(["exp": Self.seconds - 60])) == .expired)
        #expect(Self.refusal(Self.idClaims(["exp": Self.seconds - 86400])) == .expired)
        #expect(Self.refusal(Self.idClaims(["iat": Self.seconds + 60])) == nil)
        #expect(Self.refusal(Self.idClaims(["iat": Self.seconds + 61])) == .notYetValid)
        #expect(Self.refusal(Self.idClaims(["nbf": Self.seconds + 60])) == nil)
        #expect(Self.refusal(Self.idClaims(["nbf": Self.seconds + 61])) == .notYetValid)
        for missing in ["exp", "iat", "sub"] {
            var claims = Self.idClaims()
            claims[missing] = nil
            #expect(Self.refusal(claims) == .malformed, "without \(missing)")
        }
        #expect(Self.refusal(Self.idClaims(["sub": ""])) == .malformed)
    }

    @Test("token_use must be id or access; the app client must be named and allowed")
    func useAndAudience() {
        for use: Any in ["refresh", "ID", "", 7 as Int, NSNull()] {
            let refusal = Self.refusal(Self.idClaims(["token_use": use]))
            // A number is the wrong JSON type: malformed before any check.
            #expect(refusal == (use is Int ? TokenRejection.malformed : .useInvalid), "\(use)")
        }
        #expect(Self.refusal(Self.idClaims(["aud": NSNull()])) == .audienceNotAllowed)
        #expect(Self.refusal(Self.idClaims(["aud": ""])) == .audienceNotAllowed)
        #expect(Self.refusal(Self.idClaims(["aud": ["client1", "client2"]])) == .audienceNotAllowed)
        #expect(Self.refusal(Self.idClaims(["aud": ["client1"]])) == nil)
        #expect(Self.refusal(Self.idClaims(), allowed: ["client9"]) == .audienceNotAllowed)
        #expect(Self.refusal(Self.idClaims(), allowed: ["client9", "client1"]) == nil)
        // An access token names its client as client_id: an `aud` does not stand in for it.
        let access = Self.idClaims(["token_use": "access", "aud": "client1"])
        #expect(Self.refusal(access) == .audienceNotAllowed)
        #expect(Self.refusal(access.merging(["client_id": "client1"]) { $1 }, allowed: ["client1"]) == nil)
        #expect(Self.refusal(access.merging(["client_id": "client2"]) { $1 }, allowed: ["client1"]) == .audienceNotAllowed)
    }

    @Test("every rejection has a fixed sentence (no token text) and a metric label of its own")
    func descriptions() {
        for rejection in TokenRejection.allCases {
            #expect(!rejection.description.isEmpty && !rejection.reason.isEmpty)
        }
        #expect(Set(TokenRejection.allCases.map(\.reason)).count == TokenRejection.allCases.count)
    }
}
