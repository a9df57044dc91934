import Foundation
import IdentityMap
import Testing

@testable import StableIDAPI

@Suite("JSON writer")
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
}
