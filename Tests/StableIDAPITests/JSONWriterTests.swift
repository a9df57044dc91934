import Cognito
import Foundation
import IdentityMap
import NIOCore
import Testing

@testable import LookupCache
@testable import StableIDAPI

@Suite("JSON writer", .timeLimit(.minutes(2)))
struct JSONWriterTests {
    @Test("the hot-path resolution JSON equals JSONEncoder's, with escapes, nils and unicode")
    func matchesJSONEncoder() throws {
        let identities = [
            Identity(
                pool: PoolID("us-east-1_A")!, sub: "s\"ub\\\n\t\u{1}é😀", username: "ü", email: nil, emailVerified: false,
                provider: "Cognito", status: .active, linkedAt: Date(timeIntervalSince1970: 1_700_000_000.25), unlinkedAt: nil),
            Identity(
                pool: PoolID("eu-west-1_B")!, sub: "x", username: "y", email: "a@b.c", emailVerified: true,
                provider: "Google", status: .unlinked, linkedAt: Date(timeIntervalSince1970: 1), unlinkedAt: Date(timeIntervalSince1970: 2)),
        ]
        for identity in identities {
            let resolution = Resolution(userID: UUID(), userStatus: .active, identity: identity)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let expected = try JSONSerialization.jsonObject(with: encoder.encode(ResolutionJSON(resolution))) as? NSDictionary
            let written = try JSONSerialization.jsonObject(with: Data(JSONWriter.resolution(resolution))) as? NSDictionary
            #expect(expected == written)
            #expect(String(decoding: JSONWriter.resolution(resolution), as: UTF8.self).contains(resolution.userID.uuidString.lowercased()))
        }
        // The batch answer, with nulls in place and refused items, equals the Codable shape's.
        let results: [Resolution?] = [
            Resolution(userID: UUID(), userStatus: .active, identity: identities[0]), nil,
            Resolution(userID: UUID(), userStatus: .merged, identity: identities[1]),
        ]
        for errors in [[], [BatchResolveResponse.ItemError(index: 1, code: "invalid_sub", detail: "items[1].sub \"x\"")]] {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            let codable = BatchResolveResponse(results: results.map { $0.map(ResolutionJSON.init) }, errors: errors)
            let expected = try JSONSerialization.jsonObject(with: encoder.encode(codable)) as? NSDictionary
            let written = try JSONSerialization.jsonObject(with: Data(JSONWriter.batch(results, errors: errors))) as? NSDictionary
            #expect(expected == written)
        }
    }

    @Test("the token lookup's answer is the resolution with the verified claims under token, in sorted place")
    func tokenAnswer() throws {
        let sub = "5b0b5b0b-1111-4222-8333-000000000005"
        let identity = Identity(
            pool: PoolID("us-east-1_A")!, sub: sub, username: "ü \"x\"", email: "a@b.c", emailVerified: true, provider: "Cognito",
            status: .active, linkedAt: Date(timeIntervalSince1970: 1_700_000_000.25), unlinkedAt: nil, via: .lazy)
        let resolution = Resolution(userID: UUID(), userStatus: .active, identity: identity)
        let issuer = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_A"
        let token = VerifiedToken(
            poolID: "us-east-1_A", issuer: issuer, subject: sub, use: .access, clientID: "c\"1", expiresAt: 1_800_000_600,
            issuedAt: 1_800_000_000, authTime: nil, username: "ü")
        var writer = JSONWriter()
        writer.resolution(resolution, token: token)
        let text = String(decoding: writer.bytes, as: UTF8.self)
        var answer = try #require(try JSONSerialization.jsonObject(with: Data(writer.bytes)) as? [String: Any], "\(text)")
        let claims = try #require(answer["token"] as? [String: Any])
        let expectedClaims: [String: Any] = [
            "client_id": "c\"1", "exp": 1_800_000_600, "iat": 1_800_000_000, "iss": issuer, "pool": "us-east-1_A", "sub": sub,
            "token_use": "access", "username": "ü",
        ]
        #expect(NSDictionary(dictionary: claims) == NSDictionary(dictionary: expectedClaims))
        answer["token"] = nil
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let expected = try JSONSerialization.jsonObject(with: encoder.encode(ResolutionJSON(resolution))) as? NSDictionary
        #expect(NSDictionary(dictionary: answer) == expected)
        let tokenKey = try #require(text.range(of: #","token":{"#))
        let userKey = try #require(text.range(of: #","user_id":"#))
        let statusKey = try #require(text.range(of: #"},"status":"#))
        #expect(statusKey.lowerBound < tokenKey.lowerBound && tokenKey.lowerBound < userKey.lowerBound, "\(text)")
        // Without a token, exactly the resolution's answer.
        var plain = JSONWriter()
        plain.resolution(resolution, token: nil)
        #expect(plain.bytes == JSONWriter.resolution(resolution))
    }

    @Test(
        "a batch written in place from the lookup cache is byte for byte the batch written from resolutions; a miss leaves it to the general path"
    )
    func storedAnswersMatchResolutions() async throws {
        let pools = [PoolID("us-east-1_A")!, PoolID("eu-west-1_B")!]
        let cache = LookupCache(configuration: .init(shardCount: 4, maxStaleness: .seconds(60)))
        var resolutions: [Resolution] = []
        for index in 0..<300 {
            let sub = UUID().uuidString.lowercased()
            let identity = Identity(
                pool: pools[index % 2], sub: sub,
                username: index % 19 == 0
                    ? "" : index % 31 == 0 ? "\u{1}\u{8}\u{c}\r\t\u{1f}/" : index % 3 == 0 ? "ü \"\(index)\"\\\n" : "user\(index)",
                email: index % 5 == 0 ? nil : index % 23 == 0 ? "" : "u\(index)+é@example.com", emailVerified: index % 2 == 0,
                provider: index % 7 == 0 ? "Google" : "Cognito",
                status: index % 11 == 0 ? .disabled : .active,
                // Years past 9999 (and before 0) have no RFC 3339 spelling: written the other way.
                linkedAt: index % 29 == 0
                    ? Date(timeIntervalSince1970: 253_402_300_800 + Double(index))
                    : index % 37 == 0
                        ? Date(timeIntervalSince1970: -62_167_219_200 - 86_400)
                        : Date(timeIntervalSince1970: 1_700_000_000.123456 + Double(index)),
                unlinkedAt: index % 13 == 0 ? Date(timeIntervalSince1970: 1_700_100_000.5) : nil, via: index % 4 == 0 ? .lazy : nil)
            resolutions.append(Resolution(userID: UUID(), userStatus: index % 17 == 0 ? .merged : .active, identity: identity))
        }
        cache.beginWarming(expectedEntries: resolutions.count)
        cache.replacePools([(pools[0], "https://issuer.example/a"), (pools[1], "https://issuer.example/b")])
        cache.apply(resolutions.map { CacheUpdate(pool: $0.identity.pool, sub: UUIDBits(canonicalText: $0.identity.sub)!, resolution: $0) })
        cache.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        let references = resolutions.map { IdentityReference.pool($0.identity.pool, sub: $0.identity.sub) }
        for count in [0, 1, 255, 256, 300] {
            let fromMemory = try #require(await ResolveController.answersFromMemory(cache, Array(references.prefix(count))))
            #expect(fromMemory == ByteBuffer(bytes: JSONWriter.batch(Array(resolutions.prefix(count)), errors: [])), "\(count) items")
        }
        // By issuer too.
        let byIssuer = references.prefix(3).enumerated().map { index, reference -> IdentityReference in
            guard case .pool(let pool, let sub) = reference else { return reference }
            return .issuer(pool == pools[0] ? "https://issuer.example/a/" : "https://issuer.example/b", sub: sub)
        }
        #expect(
            await ResolveController.answersFromMemory(cache, byIssuer)
                == ByteBuffer(bytes: JSONWriter.batch(Array(resolutions.prefix(3)), errors: [])))
        // Pools and issuers mixed in one large batch, each shard's answers gathered out of order.
        let mixed = references.enumerated().map { index, reference -> IdentityReference in
            guard index % 3 == 1, case .pool(let pool, let sub) = reference else { return reference }
            return .issuer(pool == pools[0] ? "https://issuer.example/a" : "https://issuer.example/b/", sub: sub)
        }
        #expect(await ResolveController.answersFromMemory(cache, mixed) == ByteBuffer(bytes: JSONWriter.batch(resolutions, errors: [])))
        // The same identity asked twice in one batch is answered twice.
        let repeated = Array(references.prefix(260)) + Array(references.prefix(40))
        let expectedRepeated = Array(resolutions.prefix(260)) + Array(resolutions.prefix(40))
        #expect(
            await ResolveController.answersFromMemory(cache, repeated) == ByteBuffer(bytes: JSONWriter.batch(expectedRepeated, errors: [])))
        // One sub memory does not have: no answer from memory at all.
        let missing = Array(references.prefix(299)) + [.pool(pools[0], sub: UUID().uuidString.lowercased())]
        #expect(await ResolveController.answersFromMemory(cache, missing) == nil)
        // So does an unknown pool, an unknown issuer, and a sub not in canonical form.
        for stranger: IdentityReference in [
            .pool(PoolID("ap-south-1_C")!, sub: resolutions[0].identity.sub),
            .issuer("https://issuer.example/c", sub: resolutions[0].identity.sub),
            .pool(pools[0], sub: resolutions[0].identity.sub.uppercased()),
        ] {
            #expect(await ResolveController.answersFromMemory(cache, Array(references.prefix(280)) + [stranger]) == nil)
            #expect(cache.withStoredAnswer(for: stranger) { _ in true } == nil)
        }
        // One at a time, as the single lookup writes it.
        for (reference, resolution) in zip(references, resolutions) {
            let written = cache.withStoredAnswer(for: reference) { answer -> ByteBuffer in
                var buffer = ByteBuffer()
                buffer.writeAnswer(answer)
                return buffer
            }
            #expect(written == ByteBuffer(bytes: JSONWriter.resolution(resolution)))
        }
    }

    @Test("the longest answers — every field, every byte escaped, times at the clamp — are the same bytes, within the bound")
    func worstCaseAnswer() throws {
        let pool = PoolID("us-east-1_A")!
        let cache = LookupCache(configuration: .init(shardCount: 1, maxStaleness: .seconds(60)))
        let sub = UUID().uuidString.lowercased()
        let nasty = String(repeating: "\u{1}\"\\\u{1f}", count: 100)
        let identity = Identity(
            pool: pool, sub: sub, username: nasty, email: nasty, emailVerified: true, provider: "Sign\"In\\With\u{2}",
            status: .active, linkedAt: Date(timeIntervalSinceReferenceDate: 1e12), unlinkedAt: Date(timeIntervalSinceReferenceDate: -1e12),
            via: .lazy)
        let resolution = Resolution(userID: UUID(), userStatus: .merged, identity: identity)
        cache.beginWarming(expectedEntries: 1)
        cache.replacePools([(pool, "https://issuer.example/a")])
        cache.apply([CacheUpdate(pool: pool, sub: UUIDBits(canonicalText: sub)!, resolution: resolution)])
        cache.markCaughtUp(pollStarted: .now, cursor: ChangeCursor(after: 0))
        let written = try #require(
            cache.withStoredAnswer(for: .pool(pool, sub: sub)) { answer -> (bytes: ByteBuffer, bound: Int) in
                var buffer = ByteBuffer()
                buffer.writeAnswer(answer)
                return (buffer, AnswerCursor.bound(answer))
            })
        #expect(written.bytes == ByteBuffer(bytes: JSONWriter.resolution(resolution)))
        #expect(written.bytes.readableBytes <= written.bound)
    }
}
