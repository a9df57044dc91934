import Support
import Testing

@Suite("JSON scanner", .timeLimit(.minutes(2)))
struct JSONScannerTests {
    /// Runs `body` with a scanner over `bytes`, as callers do: inside `withUnsafeBytes`.
    func scan<T>(
        _ bytes: [UInt8], strings: JSONScanner.Strings = .strict, _ body: (inout JSONScanner) throws -> T
    ) throws -> T {
        try bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws -> T in
            var scanner = JSONScanner(raw, strings: strings)
            return try body(&scanner)
        }
    }

    func scan<T>(_ text: String, strings: JSONScanner.Strings = .strict, _ body: (inout JSONScanner) throws -> T) throws -> T {
        try scan(Array(text.utf8), strings: strings, body)
    }

    /// The string `json` (quotes included) reads as.
    func string(_ json: String, strings: JSONScanner.Strings = .strict) throws -> String {
        try scan(json, strings: strings) { (scanner: inout JSONScanner) throws -> String in
            let text = try scanner.readString()
            let end = scanner.index
            #expect(end == json.utf8.count, "\(json) not read to its end")
            return text
        }
    }

    /// The failure reading `json` with `body`; nil (and an issue) when it is accepted.
    func failure(
        _ json: String, strings: JSONScanner.Strings = .strict, _ body: (inout JSONScanner) throws -> Void = { try $0.skipValue() }
    ) -> JSONScanner.Failure? {
        do {
            try scan(json, strings: strings, body)
        } catch let failure as JSONScanner.Failure {
            return failure
        } catch {
            Issue.record("unexpected \(error)")
            return nil
        }
        Issue.record("accepted: \(json)")
        return nil
    }

    @Test("strings: plain runs, every escape, \\u with and without surrogate pairs")
    func strings() throws {
        #expect(try string(#""""#) == "")
        #expect(try string(#""plain café 😀""#) == "plain café 😀")
        #expect(try string(#""q\" b\\ s\/ b\b f\f n\n r\r t\t""#) == "q\" b\\ s/ b\u{08} f\u{0C} n\n r\r t\t")
        #expect(try string(#""\u0041\u00e9\u20AC\u0000""#) == "Aé€\u{0}")
        #expect(try string(#""\ud83d\ude00 and \uD83D\uDE00""#) == "😀 and 😀")
        #expect(try string(#""before \n after""#) == "before \n after")
        // Whitespace before the string is stepped over.
        #expect(try scan(" \t\r\n\"x\"") { try $0.readString() } == "x")
    }

    @Test("tolerant strings: lone surrogates become U+FFFD; raw control bytes and broken UTF-8 are kept as they read")
    func tolerantStrings() throws {
        #expect(try string(#""\ud83d""#, strings: .tolerant) == "\u{FFFD}")
        #expect(try string(#""\ude00x""#, strings: .tolerant) == "\u{FFFD}x")
        #expect(try string(#""\ud83d\u0041""#, strings: .tolerant) == "\u{FFFD}A")
        #expect(try string(#""\ud83d\n""#, strings: .tolerant) == "\u{FFFD}\n")
        #expect(try string(#""\ud83d\ud83d\ude00""#, strings: .tolerant) == "\u{FFFD}😀")
        #expect(try string("\"line\none\ttab\"", strings: .tolerant) == "line\none\ttab")
        #expect(try string("\"a\nb\\u0041\"", strings: .tolerant) == "a\nbA")
        let broken: [UInt8] = [0x22, 0x61, 0xFF, 0x62, 0x22]
        #expect(try scan(broken, strings: .tolerant) { try $0.readString() } == "a\u{FFFD}b")
    }

    @Test("strict strings refuse what JSONSerialization refuses: raw control bytes, lone surrogates, bytes that are not UTF-8")
    func strictStrings() throws {
        #expect(failure("\"ab\ncd\"") == JSONScanner.Failure(index: 3, problem: "byte 0x0A must be escaped in a string"))
        #expect(failure(#""x\ud83d""#) == JSONScanner.Failure(index: 2, problem: #"\ud83d is half of a surrogate pair"#))
        #expect(failure(#""\uDE00""#) == JSONScanner.Failure(index: 1, problem: #"\uDE00 is half of a surrogate pair"#))
        for bytes: [UInt8] in [
            [0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xC0, 0xAF, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22],
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], [0x22, 0x80, 0x22],
        ] {
            #expect(throws: JSONScanner.Failure(index: 0, problem: "the string is not UTF-8")) {
                try scan(bytes) { try $0.skipString() }
            }
        }
        let fine: [UInt8] = [0x22] + Array("é€😀\u{10FFFF}".utf8) + [0x22]
        #expect(try scan(fine) { try $0.readString() } == "é€😀\u{10FFFF}")
    }

    @Test("string failures say where: the opening quote of one that never ends, the backslash of a bad escape")
    func stringFailures() {
        #expect(failure(#"  "abc"#) == JSONScanner.Failure(index: 2, problem: "the string never ends"))
        #expect(failure(#""abc\"#) == JSONScanner.Failure(index: 0, problem: "the string never ends"))
        #expect(failure(#""ab\"#) == JSONScanner.Failure(index: 0, problem: "the string never ends"))
        #expect(failure(#""ab\x""#) == JSONScanner.Failure(index: 3, problem: #"\x is not a JSON escape"#))
        #expect(failure(#""\u12G4""#) == JSONScanner.Failure(index: 1, problem: #"expected 4 hex digits after \u"#))
        #expect(failure(#""\u12""#) == JSONScanner.Failure(index: 1, problem: #"expected 4 hex digits after \u"#))
        #expect(failure("7", { _ = try $0.readString() }) == JSONScanner.Failure(index: 0, problem: "expected a string, found '7'"))
        // The same checks when the string is only stepped over.
        #expect(failure(#"["ok", "bad\q"]"#) == JSONScanner.Failure(index: 11, problem: #"\q is not a JSON escape"#))
    }

    @Test("keys: compared as bytes without a String, or decoded when they have escapes")
    func keys() throws {
        let object = #"{"sub": 1, "n\u0061me" :2, "Username":3, "other": 4}"#
        let names = try scan(object) { (scanner: inout JSONScanner) throws -> [String] in
            var found: [String] = []
            let opened = scanner.consume(UInt8(ascii: "{"))
            #expect(opened)
            var first = true
            while let key = try scanner.nextKey(first: first) {
                first = false
                switch key {
                case "sub": found.append("sub")
                case "name": found.append("name")
                case "User", "Username": found.append("Username")
                default: found.append("other:" + key.text)
                }
                try scanner.skipValue()
            }
            let rest = scanner.skipWhitespace()
            #expect(rest == nil)
            return found
        }
        #expect(names == ["sub", "name", "Username", "other:other"])
        #expect(try scan(#""items":"#) { try $0.readKey() == "items" })
        #expect(try scan(#""items":"#) { try $0.readKey() == "item" } == false)
        #expect(try scan(#""it\u0065ms":"#) { try $0.readKey().text } == "items")
        #expect(failure(#"{"a" 1}"#) == JSONScanner.Failure(index: 5, problem: #"expected ':' after "a", found '1'"#))
        #expect(failure(#"{a: 1}"#) == JSONScanner.Failure(index: 1, problem: "expected a quoted key, found 'a'"))
    }

    @Test("skipValue walks any nesting and checks the syntax throughout")
    func skipValue() throws {
        let text = #" {"a": [1, -2.5e-3, {"b": [true, false, null, "x\"]}", {}]}], "c": {}, "d": [], "e": "\u00e9"} "#
        let end = try scan(text) { (scanner: inout JSONScanner) throws -> Int in
            try scanner.skipValue()
            return scanner.index
        }
        #expect(end == text.utf8.count - 1)
        #expect(failure("[1,]") == JSONScanner.Failure(index: 3, problem: "expected a value, found ']'"))
        #expect(failure("[1 2]") == JSONScanner.Failure(index: 3, problem: "expected ',' or ']', found '2'"))
        #expect(failure(#"{"a":1 "b":2}"#) == JSONScanner.Failure(index: 7, problem: #"expected ',' or '}', found '"'"#))
        #expect(failure(#"{"a":1,}"#) == JSONScanner.Failure(index: 7, problem: "expected a quoted key, found '}'"))
        #expect(failure("[nul]") == JSONScanner.Failure(index: 1, problem: "expected true, false or null, found 'n'"))
        #expect(failure("[?]") == JSONScanner.Failure(index: 1, problem: "expected a value, found '?'"))
    }

    @Test("input that ends early fails at the end, or at the string that never closes")
    func truncated() {
        #expect(failure("") == JSONScanner.Failure(index: 0, problem: "the input ends where a value should be"))
        #expect(failure("   ") == JSONScanner.Failure(index: 3, problem: "the input ends where a value should be"))
        #expect(failure("[") == JSONScanner.Failure(index: 1, problem: "the input ends where a value should be"))
        #expect(failure(#"{"a": "#) == JSONScanner.Failure(index: 6, problem: "the input ends where a value should be"))
        #expect(failure("{") == JSONScanner.Failure(index: 1, problem: "expected a quoted key, found the end of the input"))
        #expect(failure("[1, 2") == JSONScanner.Failure(index: 5, problem: "expected ',' or ']', found the end of the input"))
        #expect(failure(#"{"a": 1"#) == JSONScanner.Failure(index: 7, problem: "expected ',' or '}', found the end of the input"))
        #expect(failure(#"{"a""#) == JSONScanner.Failure(index: 4, problem: #"expected ':' after "a", found the end of the input"#))
        #expect(failure(#"{"a": "xy"#) == JSONScanner.Failure(index: 6, problem: "the string never ends"))
        #expect(failure("tru") == JSONScanner.Failure(index: 0, problem: "expected true, false or null, found 't'"))
        #expect(failure("-") == JSONScanner.Failure(index: 0, problem: "expected a number"))
    }

    @Test("nesting is limited to 256 levels, counting the levels a caller says are already open")
    func depth() throws {
        let deepest = String(repeating: "[", count: 256) + String(repeating: "]", count: 256)
        try scan(deepest) { try $0.skipValue() }
        let tooDeep = String(repeating: "[", count: 257) + String(repeating: "]", count: 257)
        #expect(failure(tooDeep) == JSONScanner.Failure(index: 256, problem: "nested more than 256 levels deep"))
        let objects = String(repeating: #"{"a":"#, count: 257) + "1" + String(repeating: "}", count: 257)
        #expect(failure(objects) == JSONScanner.Failure(index: 256 * 5, problem: "nested more than 256 levels deep"))
        let nearLimit = failure("[[[1]]]", { try $0.skipValue(depth: 254) })
        #expect(nearLimit == JSONScanner.Failure(index: 2, problem: "nested more than 256 levels deep"))
        try scan("[[1]]") { try $0.skipValue(depth: 254) }
    }

    @Test("numbers: RFC 8259's grammar, read as Double")
    func numbers() throws {
        for (text, value) in [
            ("0", 0.0), ("-0", -0.0), ("7", 7), ("-12.5e2", -1250), ("1E+2", 100), ("2e-2", 0.02), ("1795169472.345", 1_795_169_472.345),
            ("  42", 42),
        ] {
            #expect(try scan(text) { try $0.readNumber() } == value, "\(text)")
        }
        // A leading zero ends the number; what follows is the caller's to refuse.
        let zero = try scan("01") { (scanner: inout JSONScanner) throws -> [Double] in
            let value = try scanner.readNumber()
            return [value, Double(scanner.index)]
        }
        #expect(zero == [0, 1])
        for bad in ["-", "+1", ".5", "1.", "1e", "1e+", "-a", "x"] {
            let refused = failure(bad, { _ = try $0.readNumber() })
            #expect(refused == JSONScanner.Failure(index: 0, problem: "expected a number"), "\(bad)")
        }
        #expect(failure("[1.]") == JSONScanner.Failure(index: 1, problem: "expected a number"))
    }

    @Test("literals: true, false and null (nil); nothing else")
    func literals() throws {
        #expect(try scan("true") { try $0.readLiteral() } == true)
        #expect(try scan(" false") { try $0.readLiteral() } == false)
        let null = try scan("null") { (scanner: inout JSONScanner) throws -> Bool in
            let value = try scanner.readLiteral()
            return value == nil && scanner.index == 4
        }
        #expect(null)
        for bad in ["TRUE", "nul", "fals", "yes", ""] {
            #expect(failure(bad, { _ = try $0.readLiteral() }) != nil, "\(bad)")
        }
    }

    @Test("whitespace and single bytes: peeked without consuming, consumed only when they match")
    func tokens() throws {
        try scan(" \t\r\n x,") { (scanner: inout JSONScanner) -> Void in
            let peeked = scanner.skipWhitespace()
            let peekedAt = scanner.index
            #expect(peeked == UInt8(ascii: "x") && peekedAt == 5)
            let commaFirst = scanner.consume(UInt8(ascii: ","))
            let afterMiss = scanner.index
            #expect(!commaFirst && afterMiss == 5)
            let x = scanner.consume(UInt8(ascii: "x"))
            let comma = scanner.consume(UInt8(ascii: ","))
            #expect(x && comma)
            let end = scanner.skipWhitespace()
            let endAt = scanner.index
            #expect(end == nil && endAt == 7)
        }
        // Reading starts wherever the caller says.
        let resumed = try scan(#"xx"yz""#) { (scanner: inout JSONScanner) throws -> String in
            scanner.index = 2
            return try scanner.readString()
        }
        #expect(resumed == "yz")
        #expect(JSONScanner.describe(UInt8(ascii: "}")) == "'}'")
        #expect(JSONScanner.describe(0x0A) == "byte 0x0A")
        #expect(JSONScanner.describe(nil) == "the end of the input")
    }
}
