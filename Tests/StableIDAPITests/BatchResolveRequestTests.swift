import NIOCore
import Testing

@testable import StableIDAPI

@Suite("Batch resolve body")
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
}
