import Foundation
import NIOCore
import Testing

@testable import StableIDAPI

@Suite("Batch resolve body", .timeLimit(.minutes(2)))
struct BatchResolveRequestTests {
    func items(_ body: String) throws -> [BatchResolveRequest.Item] {
        try BatchResolveRequest.parse(ByteBuffer(string: body)).items
    }

    /// The 400's detail for `body`; nil (and an issue) when it is accepted.
    func refusal(_ body: String) -> String? {
        do {
            _ = try BatchResolveRequest.parse(ByteBuffer(string: body))
            Issue.record("accepted: \(body)")
            return nil
        } catch let problem as Problem {
            #expect(problem.code == "invalid_request", "\(body)")
            return problem.detail
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
    }

    @Test("items with their pool, iss and sub; other keys ignored at both levels; the last of duplicate keys wins")
    func reads() throws {
        let body = #"""
            {"x": [1, {"y": null}], "items": [
              {"pool": "us-east-1_A", "sub": "s-1", "extra": {"a": [true, -1.5e3]}},
              {"iss": "https://i", "sub": "s\u002d2"},
              {"sub": "old", "sub": "new", "pool": 1, "pool": "p"}
            ], "z": "é"}
            """#
        let parsed = try items(body)
        #expect(parsed.map(\.sub) == ["s-1", "s-2", "new"])
        #expect(parsed.map(\.pool) == ["us-east-1_A", nil, "p"])
        #expect(parsed.map(\.iss) == [nil, "https://i", nil])
        #expect(try items("\u{FEFF} {\"items\": []} \n").isEmpty)
        #expect(try items(#"{"items": [1], "items": [{"sub": "x"}]}"#).map(\.sub) == ["x"])
        let thousand = (0..<1_000).map { #"{"pool":"us-east-1_A","sub":"s-\#($0)"}"# }.joined(separator: ",")
        let many = try items(#"{"items":[\#(thousand)]}"#)
        #expect(many.count == 1_000 && many.last?.sub == "s-999")
    }

    @Test("the 400s JSONSerialization gave: a syntax error anywhere first, then the shape, the first item in error")
    func refusals() {
        #expect(refusal("") == "the request body is empty; send JSON")
        let notJSON = [
            "{", "  ", #""items""#, "12", "null", #"{"items": []} x"#, #"{"items": [],}"#, "{'items': []}",
            "{\"items\": [{\"sub\": \"a\nb\"}]}", #"{"items": [], "x": "\q"}"#, "[1,]", #"{"items": "no", "x": [1 2]}"#,
            #"{"items": [{"sub": 01}]}"#, #"{"items": [3], "other": tru}"#, #"{"items": [{"sub": "\ud800"}]}"#,
        ]
        for body in notJSON {
            #expect(refusal(body) == "the body is not valid JSON", "\(body)")
        }
        #expect(refusal("[]") == "the body must be a JSON object")
        #expect(refusal(#"[{"items": []}]"#) == "the body must be a JSON object")
        #expect(refusal("{}") == "items is required")
        #expect(refusal(#"{"Items": []}"#) == "items is required")
        #expect(refusal(#"{"items": "no"}"#) == "items must be an array")
        #expect(refusal(#"{"items": null}"#) == "items must be an array")
        #expect(refusal(#"{"items": {"sub": "x"}}"#) == "items must be an array")
        #expect(refusal(#"{"items": [{"sub": "a"}, "b", 3]}"#) == "items[1] must be an object")
        #expect(refusal(#"{"items": [{"pool": "p"}]}"#) == "items[0].sub is required")
        for value in ["1", "true", "null", "{}", #"["x"]"#] {
            #expect(refusal(#"{"items": [{"sub": \#(value)}]}"#) == "items[0].sub must be a string")
            #expect(refusal(#"{"items": [{"sub": "s", "pool": \#(value)}]}"#) == "items[0].pool must be a string")
            #expect(refusal(#"{"items": [{"sub": "s", "iss": \#(value)}]}"#) == "items[0].iss must be a string")
        }
        // pool is checked before iss, whatever order the keys come in.
        #expect(refusal(#"{"items": [{"sub": "s"}, {"iss": 1, "pool": 2}, 3]}"#) == "items[1].pool must be a string")
    }

    @Test("a large body read in two halves gives what one reading gives; a cut anywhere but between two items is refused")
    func halves() async throws {
        func item(_ n: Int, extra: String = "") -> String {
            #"{"pool":"us-east-1_A","sub":"00000000-0000-4000-8000-\#(String(format: "%012d", n))"\#(extra)}"#
        }
        /// `split`: whether the halves are taken; the items are equal either way.
        func same(_ body: String, split: Bool, _ comment: Comment) async throws {
            let buffer = ByteBuffer(string: body)
            #expect(buffer.readableBytes >= BatchResolveRequest.splitThreshold, comment)
            let halves = await BatchResolveRequest.itemsInHalves(Array(body.utf8))
            let whole = try BatchResolveRequest.parse(buffer).items
            let concurrent = try await BatchResolveRequest.parseConcurrently(buffer).items
            #expect(concurrent.map(\.sub) == whole.map(\.sub) && concurrent.map(\.pool) == whole.map(\.pool), comment)
            #expect(concurrent.map(\.iss) == whole.map(\.iss), comment)
            if split {
                let taken = try #require(halves, "the halves were not taken: \(comment)")
                #expect(taken.map(\.sub) == whole.map(\.sub) && taken.map(\.pool) == whole.map(\.pool), comment)
                #expect(taken.map(\.iss) == whole.map(\.iss), comment)
            } else {
                #expect(halves == nil, "the halves were taken: \(comment)")
            }
        }
        let plain = (1...600).map { item($0) }
        try await same(#"{"items":[\#(plain.joined(separator: ","))]}"#, split: true, "compact")
        try await same(#"{"items":[\#(plain.joined(separator: ","))]}  \#n"#, split: true, "trailing whitespace")
        // Items whose values hold "},{" — in a string, or in a nested array — around the middle.
        // The body is 55,211 bytes; the search starts at byte 27,605, just past the "},{" in the
        // note of item 300 (at 27,596), and finds item 300's end followed by item 301: a real cut.
        let tricky = (1...600).map { n in
            n % 2 == 0 ? item(n, extra: #","note":"a},{\"b\":1}""#) : item(n, extra: #","deep":[{},{"x":[{},{}]}]"#)
        }
        try await same(#"{"items":[\#(tricky.joined(separator: ","))]}"#, split: true, "tricky values")
        // Notes with "},{" inside: 96,611 bytes, the search starts at byte 48,305, past the "},{"
        // in the note of item 300 (at 48,264), and finds the end of item 300: a real cut.
        let noted = (1...600).map {
            item($0, extra: #","note":"\#(String(repeating: "x", count: 40))},{\#(String(repeating: "y", count: 40))""#)
        }
        try await same(#"{"items":[\#(noted.joined(separator: ","))]}"#, split: true, "notes holding },{")
        // A cut inside a string: the middle of the body falls deep inside one long note made of
        // "},{", so the first "},{" after it is in the string. The halves are refused (the first
        // ends inside a string) and the body is read whole.
        let long = item(300, extra: #","note":"\#(String(repeating: "y},{", count: 10_000))""#)
        let around = (plain.prefix(299) + [long] + plain.suffix(300)).joined(separator: ",")
        try await same(#"{"items":[\#(around)]}"#, split: false, "cut in a string")
        // Here the search starts at byte 19, the "}" inside "a},{": that cut is refused (the
        // boundary at byte 23 would have been a good one; only the first is tried).
        #expect(await BatchResolveRequest.itemsInHalves(Array(#"{"items":[{"sub":"a},{"},{"sub":"b"}]}"#.utf8)) == nil)
        // Another key after the items, with "},{" of its own past the middle: not split.
        let other = #"{"items":[\#(plain.prefix(100).joined(separator: ","))],"other":[\#(plain.joined(separator: ","))]}"#
        try await same(other, split: false, "other key")
        // Two items keys: the last wins, and no split may mix them.
        let twice = #"{"items":[\#(plain.prefix(300).joined(separator: ","))],"items":[\#(plain.suffix(300).joined(separator: ","))]}"#
        try await same(twice, split: false, "repeated items key")
        // Not compact at the start: read as one.
        try await same(#"{ "items":[\#(plain.joined(separator: ","))]}"#, split: false, "space after the brace")
        // An error in the second half is the one reading as a whole reports, with its index.
        var broken = plain
        broken[450] = #"{"pool":"us-east-1_A","sub":7}"#
        let body = ByteBuffer(string: #"{"items":[\#(broken.joined(separator: ","))]}"#)
        await #expect {
            try await BatchResolveRequest.parseConcurrently(body)
        } throws: { error in
            (error as? Problem)?.detail == "items[450].sub must be a string"
        }
        let invalid = ByteBuffer(string: #"{"items":[\#(plain.joined(separator: ","))]"#)
        await #expect {
            try await BatchResolveRequest.parseConcurrently(invalid)
        } throws: { error in
            (error as? Problem)?.detail == "the body is not valid JSON"
        }
    }
}
