import Foundation
import Support
import Testing

@Suite("JSONEncoder.sortedKeys", .timeLimit(.minutes(2)))
struct JSONEncoderCanonicalTests {
    struct Sample: Encodable {
        var zeta = 1
        var alpha = "a/b"
        var nested = ["y": 2, "x": 1]
    }

    @Test("keys sorted at every level, slashes unescaped, no white space")
    func canonical() throws {
        let text = String(decoding: try JSONEncoder.sortedKeys().encode(Sample()), as: UTF8.self)
        #expect(text == #"{"alpha":"a/b","nested":{"x":1,"y":2},"zeta":1}"#)
    }

    @Test("the same value gives the same bytes, whatever order a dictionary was built in")
    func stable() throws {
        var forward: [String: Int] = [:]
        var backward: [String: Int] = [:]
        for (index, key) in (0..<50).map({ "k\($0)" }).enumerated() { forward[key] = index }
        for (index, key) in (0..<50).map({ "k\($0)" }).enumerated().reversed() { backward[key] = index }
        #expect(try JSONEncoder.sortedKeys().encode(forward) == JSONEncoder.sortedKeys().encode(backward))
    }
}
