import Cognito
import Foundation
import Testing

/// The fast path of pre token generation (`TokenGenerationEvent`: the event read from its bytes,
/// the answer written from them) against the general path (`CognitoTriggerEvent(data:)`, then
/// `answeringTokenGeneration(stableID:)`): the same bytes for every event Cognito sends, and a
/// refusal — never a different answer — for everything else.
@Suite("Token events answered from their bytes", .timeLimit(.minutes(2)))
struct TokenGenerationEventTests {
    static let stableID = "01932c5e-7b1a-7c3d-9e4f-a1b2c3d4e5f6"
    static let sub = "a36036a8-9061-424d-a737-56d57dae7bbc"

    /// A token event as Cognito sends it to Lambda: compact, keys in Cognito's order.
    static func event(
        source: String = "TokenGeneration_RefreshTokens", version: String = "2", userName: String = #""JaneDoe""#,
        attributes: String? = nil, groups: String? = #"{"groupsToOverride":[],"iamRolesToOverride":[],"preferredRole":null}"#,
        scopes: String? = nil, clientMetadata: String? = nil, response: String? = nil, requestExtra: String = "", extra: String = ""
    ) -> String {
        let attributes =
            attributes
            ?? #"{"sub":"\#(sub)","cognito:email_alias":"jane@example.com","cognito:user_status":"CONFIRMED","email_verified":"true","email":"jane@example.com"}"#
        let scopes = scopes ?? (version == "1" ? nil : #"["aws.cognito.signin.user.admin","openid","email","profile"]"#)
        let response = response ?? (version == "1" ? #"{"claimsOverrideDetails":null}"# : #"{"claimsAndScopeOverrideDetails":null}"#)
        var request = #""userAttributes":\#(attributes)"#
        if let groups { request += #","groupConfiguration":\#(groups)"# }
        if let scopes { request += #","scopes":\#(scopes)"# }
        if let clientMetadata { request += #","clientMetadata":\#(clientMetadata)"# }
        request += requestExtra
        var text =
            #"{"version":"\#(version)","triggerSource":"\#(source)","region":"us-east-1","userPoolId":"us-east-1_EXAMPLE","userName":\#(userName),"#
            + #""callerContext":{"awsSdkVersion":"aws-sdk-unknown-unknown","clientId":"1example23456789"},"request":{\#(request)}"#
        if response != "absent" { text += #","response":\#(response)"# }
        return text + extra + "}"
    }

    struct NotATokenEvent: Error {}

    /// What the service answers today: the general path (the event parsed, its request typed as
    /// `TriggerService.handle` does first, the answer built from the tree).
    static func general(_ text: String, stableID: String = stableID) throws -> [UInt8] {
        let event = try CognitoTriggerEvent(data: Data(text.utf8))
        guard case .tokenGeneration = try event.typedRequest() else { throw NotATokenEvent() }
        return Array(try event.answeringTokenGeneration(stableID: stableID))
    }

    /// Whether the general path refuses the event: it does not parse as a token event, or it has
    /// no sub (`TriggerService.handle` answers that 400 malformed).
    static func generalRefuses(_ text: String) -> Bool {
        guard let event = try? CognitoTriggerEvent(data: Data(text.utf8)), case .tokenGeneration(let request)? = try? event.typedRequest()
        else { return true }
        return request.sub == nil
    }

    /// The fast path's answer, or nil where it refuses.
    static func fast(_ text: String, stableID: String = stableID) -> [UInt8]? {
        Array(text.utf8).withUnsafeBytes { bytes -> [UInt8]? in
            guard let event = TokenGenerationEvent.read(bytes) else { return nil }
            return TokenGenerationEvent.answer(bytes, version: event.version, stableID: stableID)
        }
    }

    static func read(_ text: String) -> TokenGenerationEvent? {
        Array(text.utf8).withUnsafeBytes { TokenGenerationEvent.read($0) }
    }

    /// Both paths answer, with the same bytes.
    static func expectSame(_ text: String, _ name: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let expected = try general(text)
        let answer = fast(text)
        #expect(answer != nil, "the fast path refused \(name ?? text)", sourceLocation: sourceLocation)
        #expect(
            answer.map { String(decoding: $0, as: UTF8.self) } == String(decoding: expected, as: UTF8.self), "\(name ?? text)",
            sourceLocation: sourceLocation)
    }

    // MARK: Same bytes

    @Test("every user source, versions 1 to 3, with and without groups, any response Cognito may send: the general path's bytes")
    func sameBytesAcrossShapes() throws {
        let groups: [String?] = [
            nil, "null", #"{"groupsToOverride":[],"iamRolesToOverride":[],"preferredRole":null}"#,
            #"{"groupsToOverride":["admins","Beta testers"],"iamRolesToOverride":["arn:aws:iam::123456789012:role/admin"],"preferredRole":"arn:aws:iam::123456789012:role/admin"}"#,
        ]
        let responses = [
            nil, "absent", "null", "{}", #""not an object""#, "[]",
            #"{"claimsOverrideDetails":null}"#, #"{"claimsAndScopeOverrideDetails":null}"#,
            #"{"claimsOverrideDetails":{"claimsToAddOrOverride":{"tier":"gold","stable_id":"stale"},"claimsToSuppress":["email"],"groupOverrideDetails":null}}"#,
            #"{"claimsAndScopeOverrideDetails":{"idTokenGeneration":null,"accessTokenGeneration":{"scopesToAdd":["orders/read"],"claimsToAddOrOverride":{"x":"y"}},"groupOverrideDetails":{"groupsToOverride":["g"]}}}"#,
            #"{"claimsAndScopeOverrideDetails":{"idTokenGeneration":{"claimsToAddOrOverride":null,"claimsToSuppress":[]},"accessTokenGeneration":"odd"}}"#,
        ]
        var compared = 0
        for source in TokenGenerationRequest.Source.allCases {
            for version in ["1", "2", "3", "V2_0"] {
                for group in groups {
                    for response in responses {
                        let text = Self.event(source: source.rawValue, version: version, groups: group, response: response)
                        try Self.expectSame(
                            text, "\(source.rawValue) v\(version) groups \(group ?? "absent") response \(response ?? "default")")
                        compared += 1
                    }
                }
            }
        }
        #expect(compared == 5 * 4 * 4 * 11)
    }

    @Test("unicode and escaped values (attributes, user name, metadata) come back as the general path writes them")
    func escapesAndUnicode() throws {
        let attributes =
            #"{"sub":"\#(Self.sub)","name":"Zoë 名前 😀","nickname":"say \"hi\"\\back\/slash","address":"line 1\nline 2\ttab\u0001","#
            + #""family_name":"\u00e9t\u00C9 \ud83d\ude00 \u2028","custom:tenant":"","email":"a+b@example.com","empty":null}"#
        try Self.expectSame(Self.event(attributes: attributes))
        try Self.expectSame(Self.event(version: "1", userName: #""J\u00e9r\u00f4me \/ 名""#, attributes: attributes))
        try Self.expectSame(Self.event(clientMetadata: #"{"note":"\u00e9\\\"","b":"2","A":"1"}"#))
        try Self.expectSame(Self.event(clientMetadata: "null"))
        // The escapes really are rewritten, not copied: `\/` and `\u00e9` have one spelling out.
        let answer = String(decoding: try #require(Self.fast(Self.event(attributes: attributes))), as: UTF8.self)
        #expect(answer.contains(#""family_name":"étÉ 😀 \#u{2028}""#) && answer.contains(#"say \"hi\"\\back/slash"#))
        #expect(answer.contains(#""address":"line 1\nline 2\ttab\u0001""#))
    }

    @Test("unknown fields anywhere, keys in any order, whitespace: kept, sorted, compact — as the general path writes them")
    func unknownFieldsAndLayout() throws {
        let extra = #","zeta":{"b":[true,false,null,{"y":"1","x":[]}],"a":{}},"Alpha":"first","_":[[]],"":"empty key""#
        try Self.expectSame(Self.event(requestExtra: #","futureRequestField":{"k":"v"},"linkedAccounts":[]"#, extra: extra))
        try Self.expectSame(
            Self.event(attributes: #"{"email":"j@example.com","sub":"\#(Self.sub)","custom:stable_id":"","Zed":"z","zed":"Z"}"#))
        // Pretty-printed, as a proxy or a test might send it.
        let pretty = """
              {
                "response" : { "claimsAndScopeOverrideDetails" : null },
                "request" : {
                  "scopes" : [ "openid" ],
                  "userAttributes" : { "sub" : "\(Self.sub)", "email_verified" : "true" }
                },
                "callerContext" : { "clientId" : "abc" , "awsSdkVersion" : null , "extra" : [ ] },
                "userName" : "jane",
                "userPoolId" : "us-east-1_EXAMPLE",
                "triggerSource" : "TokenGeneration_HostedAuth",
                "version" : "3",
                "region" : null
              }\r\n\t
            """
        try Self.expectSame(pretty)
        // No version: "1".
        try Self.expectSame(Self.event(version: "1").replacingOccurrences(of: #""version":"1","#, with: ""))
    }

    @Test("read keeps the five values the decision needs, decoded")
    func readValues() throws {
        let event = try #require(
            Self.read(Self.event(source: "TokenGeneration_NewPasswordChallenge", version: "V3_0", userName: #""J\u00e9""#)))
        #expect(
            event
                == TokenGenerationEvent(
                    source: .newPasswordChallenge, version: .v3, userPoolID: "us-east-1_EXAMPLE", userName: "Jé", sub: Self.sub))
        #expect(Self.read(Self.event(version: "1"))?.version == .v1)
        #expect(Self.read(Self.event(attributes: #"{"sub":"NOT-A-SUB","email":"x"}"#))?.sub == "NOT-A-SUB", "the caller checks the sub")
    }

    // MARK: Refusals

    @Test("what the general path would refuse is refused here too, never answered")
    func refusesWhatTheGeneralPathRefuses() throws {
        let refused: [(String, String)] = [
            ("unknown version", Self.event(version: "4")),
            ("null user name", Self.event(userName: "null")),
            ("user name not a string", Self.event(userName: "true")),
            ("no sub", Self.event(attributes: #"{"email":"x@example.com"}"#)),
            ("null sub", Self.event(attributes: #"{"sub":null}"#)),
            ("attribute not a string", Self.event(attributes: #"{"sub":"\#(Self.sub)","email_verified":true}"#)),
            ("attributes not an object", Self.event(attributes: #"["sub"]"#)),
            ("group not a string", Self.event(groups: #"{"groupsToOverride":[null]}"#)),
            ("roles not an array", Self.event(groups: #"{"iamRolesToOverride":"admin"}"#)),
            ("preferred role not a string", Self.event(groups: #"{"preferredRole":false}"#)),
            ("groups not an object", Self.event(groups: "[]")),
            ("scopes not an array", Self.event(scopes: #""openid""#)),
            ("metadata not a map of strings", Self.event(clientMetadata: #"{"a":{"b":"c"}}"#)),
            (
                "caller context not an object",
                Self.event().replacingOccurrences(of: #""callerContext":{"#, with: #""callerContext":"x","ignored":{"#)
            ),
            (
                "client id not a string",
                Self.event().replacingOccurrences(of: #""clientId":"1example23456789""#, with: #""clientId":false"#)
            ),
            ("region not a string", Self.event().replacingOccurrences(of: #""region":"us-east-1""#, with: #""region":{}"#)),
            ("request null", Self.event().replacingOccurrences(of: #""request":{"#, with: #""request":null,"ignored":{"#)),
        ]
        for (name, text) in refused {
            #expect(Self.fast(text) == nil, "\(name) was answered")
            #expect(Self.generalRefuses(text), "\(name): the general path refuses it too")
        }
        #expect(!Self.generalRefuses(Self.event()), "the check above can tell")
    }

    @Test("odd shapes the general path reads are left to it: numbers, repeated or non-ASCII keys, a password, non-JSON")
    func leavesOddShapesToTheGeneralPath() throws {
        let odd: [(String, String)] = [
            ("another trigger", Self.event(source: "PostAuthentication_Authentication")),
            ("machine to machine", Self.event(source: "TokenGeneration_ClientCredentials", version: "3")),
            ("a number", Self.event(extra: #","count":1"#)),
            ("a number in a replaced value", Self.event(response: #"{"claimsAndScopeOverrideDetails":7}"#)),
            ("a big number", Self.event(requestExtra: #","n":9007199254740993"#)),
            ("a float", Self.event(clientMetadata: "null", extra: #","ratio":0.5"#)),
            ("a key twice", Self.event(extra: #","userName":"other""#)),
            ("a key twice in an unknown object", Self.event(extra: #","x":{"a":"1","a":"2"}"#)),
            (
                "a claim twice",
                Self.event(version: "1", response: #"{"claimsOverrideDetails":{"claimsToAddOrOverride":{"a":"1","a":"2"}}}"#)
            ),
            ("an escaped key", Self.event(extra: #","\u0041lpha":"x""#)),
            ("a non-ASCII key", Self.event(clientMetadata: #"{"clé":"v"}"#)),
            ("a password", Self.event(requestExtra: #","password":"hunter2""#)),
        ]
        for (name, text) in odd {
            #expect(Self.fast(text) == nil, "\(name) was answered by the fast path")
        }
        // The general path answers most of these itself (the endpoint then takes it).
        #expect(try !Self.general(Self.event(extra: #","count":1"#)).isEmpty)
        #expect(try !Self.general(Self.event(clientMetadata: #"{"clé":"v"}"#)).isEmpty)

        let notJSON: [(String, [UInt8])] = [
            ("empty", []),
            ("an array", Array("[]".utf8)),
            ("text after the object", Array((Self.event() + " x").utf8)),
            ("two objects", Array((Self.event() + Self.event()).utf8)),
            ("cut short", Array(Self.event().utf8.dropLast())),
            ("not UTF-8", Array(Self.event(userName: #""ja~ne""#).utf8).map { $0 == UInt8(ascii: "~") ? 0xFF : $0 }),
            ("a lone surrogate", Array(Self.event(userName: #""\ud800""#).utf8)),
            ("a raw control byte", Array(Self.event(userName: "\"ja\u{01}ne\"").utf8)),
            (
                "nested past the limit",
                Array(Self.event(extra: #","deep":"# + String(repeating: "[", count: 80) + String(repeating: "]", count: 80)).utf8)
            ),
        ]
        for (name, bytes) in notJSON {
            let answer = bytes.withUnsafeBytes { raw -> [UInt8]? in
                guard let event = TokenGenerationEvent.read(raw) else { return nil }
                return TokenGenerationEvent.answer(raw, version: event.version, stableID: Self.stableID)
            }
            #expect(answer == nil, "\(name) was answered")
        }
    }

    // MARK: Random events

    @Test("a thousand random events in Cognito's shapes: the fast path answers every one, with the general path's bytes")
    func randomEvents() throws {
        var generator = RandomEvents(seed: 0x5EED_7043)
        for index in 0..<1000 {
            let text = generator.event()
            let expected = try Self.general(text)
            let answer = Self.fast(text)
            #expect(answer == expected, "event \(index): \(text)")
            if answer != expected { break }
        }
    }
}

/// Random token events: Cognito's fields and unknown ones, keys in random order at every level,
/// random whitespace, strings with every escape and non-ASCII text, random `response` shapes. No
/// numbers, repeated keys or non-ASCII keys (those the fast path leaves to the general path).
struct RandomEvents {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    /// SplitMix64: a fixed seed gives the same events in every run.
    private mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    private mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }

    private mutating func pick<T>(_ choices: [T]) -> T { choices[below(choices.count)] }

    private mutating func space() -> String { pick(["", "", "", " ", "\n  ", "\t", "\r\n"]) }

    /// A JSON string literal.
    mutating func string() -> String {
        let pieces = [
            "a", "Z", "0", " ", "-", "é", "名", "😀", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\r", "\\b", "\\f", "\\u00e9", "\\u0001",
            "\\u001F", "\\ud83d\\ude00", "\\u2028", "<", "&", "'", "~", "\u{7f}",
        ]
        var text = "\""
        for _ in 0..<below(7) { text += pick(pieces) }
        return text + "\""
    }

    /// An array of strings.
    mutating func strings() -> String {
        "[" + (0..<below(3)).map { _ in string() }.joined(separator: ",") + "]"
    }

    mutating func key() -> String {
        pick(["a", "b", "A", "Zeta", "zeta", "custom:x", "custom:Y", "_", "x_y", "k1", "k10", "k2", "", "ab", "aa"])
    }

    /// Any value but a number, `depth` levels at most.
    mutating func value(depth: Int) -> String {
        switch depth > 2 ? below(4) : below(6) {
        case 0: return string()
        case 1: return pick(["true", "false"])
        case 2: return "null"
        case 3: return string()
        case 4: return object((0..<below(4)).map { _ in (key(), value(depth: depth + 1)) })
        default: return "[" + (0..<below(4)).map { _ in space() + value(depth: depth + 1) + space() }.joined(separator: ",") + "]"
        }
    }

    /// An object of these members (later ones with a key already used are dropped), shuffled.
    mutating func object(_ members: [(String, String)]) -> String {
        var seen = Set<String>()
        var unique = members.filter { seen.insert($0.0).inserted }
        for index in unique.indices.reversed() { unique.swapAt(index, below(index + 1)) }
        let body = unique.map { space() + "\"\($0.0)\"" + space() + ":" + space() + $0.1 + space() }.joined(separator: ",")
        return "{" + body + "}"
    }

    mutating func event() -> String {
        let version = pick(["1", "2", "3"])
        let claims = pick([
            "null", "{}", object([("claimsToAddOrOverride", pick(["null", object([("stable_id", string()), ("t", string())])]))]),
        ])
        let details = object([("idTokenGeneration", claims), ("accessTokenGeneration", claims), (key(), value(depth: 2))])
        let response = pick([
            "null", "{}", string(), object([(pick(["claimsOverrideDetails", "claimsAndScopeOverrideDetails"]), pick(["null", details]))]),
            object([("claimsOverrideDetails", details), ("claimsAndScopeOverrideDetails", details), (key(), value(depth: 1))]),
        ])
        var attributes: [(String, String)] = [("sub", "\"\(TokenGenerationEventTests.sub)\"")]
        for name in ["email", "email_verified", "cognito:user_status", "name", "custom:tenant"] where below(3) > 0 {
            attributes.append((name, below(6) == 0 ? "null" : string()))
        }
        var request: [(String, String)] = [("userAttributes", object(attributes))]
        if below(3) > 0 {
            let groups = object([
                ("groupsToOverride", strings()), ("iamRolesToOverride", strings()), ("preferredRole", pick(["null", string()])),
            ])
            request.append(("groupConfiguration", groups))
        }
        if below(2) == 0 { request.append(("scopes", "[\"openid\"," + string() + "]")) }
        if below(2) == 0 { request.append(("clientMetadata", pick(["null", object([(key(), string()), (key(), "null")])]))) }
        if below(3) == 0 { request.append(("future", value(depth: 1))) }
        var top: [(String, String)] = [
            ("version", "\"\(version)\""),
            ("triggerSource", "\"\(pick(TokenGenerationRequest.Source.allCases).rawValue)\""),
            ("region", pick(["\"us-east-1\"", "null"])), ("userPoolId", "\"us-east-1_EXAMPLE\""), ("userName", string()),
            ("callerContext", object([("awsSdkVersion", pick(["null", string()])), ("clientId", string()), (key(), value(depth: 2))])),
            ("request", object(request)),
        ]
        if below(5) > 0 { top.append(("response", response)) }
        if below(3) == 0 { top.append((pick(["future", "Zeta", "_meta"]), value(depth: 1))) }
        return space() + object(top) + space()
    }
}
