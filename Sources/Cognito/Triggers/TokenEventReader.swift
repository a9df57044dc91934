import Support

/// Reads the bytes of a pre token generation event for ``TokenGenerationEvent``: the five values
/// it keeps and, on the way, every check the general path makes of such an event
/// (`CognitoTriggerEvent(json:)`: the header's types; `typedRequest()`: the request's), so that
/// what this accepts the general path accepts too, with the same values. Anything else, or any
/// doubt, is refused (``TriggerJSONRewriter/Refused``) and left to the general path.
///
/// What the general path requires, and so this too:
/// - the event is one JSON object; `triggerSource` a user `TokenGeneration_*` source; `version`
///   one it knows (absent or `null` is "1"); `userPoolId` and `userName` strings; `region` a
///   string or `null`; `callerContext` an object whose `awsSdkVersion` and `clientId` are strings
///   or `null`, or `null`;
/// - `request` an object (without one there is no `sub`) without `password` (the general path
///   takes it out of the answer); `userAttributes` and `clientMetadata` maps of strings (members
///   may be `null`), `userAttributes.sub` a string; `scopes`, `groupConfiguration.groupsToOverride`
///   and `…iamRolesToOverride` arrays of strings or `null`; `groupConfiguration.preferredRole` a
///   string or `null`.
/// A member this reads that comes twice is refused too (which one counts would be a guess).
struct TokenEventReader {
    private typealias Refused = TriggerJSONRewriter.Refused
    private var scanner: JSONScanner

    init(_ body: UnsafeRawBufferPointer) {
        scanner = JSONScanner(body)
    }

    /// Members this reads, for refusing one that comes twice.
    private struct Seen {
        private var bits: UInt16 = 0

        mutating func first(_ bit: UInt16) throws {
            guard bits & bit == 0 else { throw Refused() }
            bits |= bit
        }
    }

    mutating func read() throws -> TokenGenerationEvent {
        guard scanner.consume(JSONByte.openBrace) else { throw Refused() }
        var source: String?
        var versionText: String?
        var pool: String?
        var name: String?
        var sub: String?
        var seen = Seen()
        var first = true
        while let key = try scanner.nextKey(first: first) {
            first = false
            switch key {
            case "version":
                try seen.first(1 << 0)
                versionText = try optionalString()
            case "triggerSource":
                try seen.first(1 << 1)
                source = try optionalString()
            case "userPoolId":
                try seen.first(1 << 2)
                pool = try optionalString()
            case "userName":
                try seen.first(1 << 3)
                name = try optionalString()
            case "region":
                try seen.first(1 << 4)
                try skipOptionalString()
            case "callerContext":
                try seen.first(1 << 5)
                try callerContext()
            case "request":
                try seen.first(1 << 6)
                sub = try request()
            default:
                try scanner.skipValue(depth: 1)
            }
        }
        guard scanner.skipWhitespace() == nil, let trigger = source.flatMap(TokenGenerationRequest.Source.init(rawValue:)),
            let version = TokenGenerationRequest.EventVersion(eventVersion: versionText ?? "1"), let userPoolID = pool,
            let userName = name, let userSub = sub
        else { throw Refused() }
        return TokenGenerationEvent(source: trigger, version: version, userPoolID: userPoolID, userName: userName, sub: userSub)
    }

    // MARK: Objects

    private mutating func callerContext() throws {
        guard try openObjectOrNull() else { return }
        var first = true
        var seen = Seen()
        while let key = try scanner.nextKey(first: first) {
            first = false
            switch key {
            case "awsSdkVersion":
                try seen.first(1 << 0)
                try skipOptionalString()
            case "clientId":
                try seen.first(1 << 1)
                try skipOptionalString()
            default:
                try scanner.skipValue(depth: 2)
            }
        }
    }

    /// `request`, which must be an object; its `userAttributes.sub`.
    private mutating func request() throws -> String? {
        guard scanner.consume(JSONByte.openBrace) else { throw Refused() }
        var sub: String?
        var first = true
        var seen = Seen()
        while let key = try scanner.nextKey(first: first) {
            first = false
            switch key {
            case "password":
                throw Refused()
            case "userAttributes":
                try seen.first(1 << 0)
                sub = try stringMap(keeping: "sub")
            case "clientMetadata":
                try seen.first(1 << 1)
                _ = try stringMap(keeping: nil)
            case "scopes":
                try seen.first(1 << 2)
                try stringArray()
            case "groupConfiguration":
                try seen.first(1 << 3)
                try groupConfiguration()
            default:
                try scanner.skipValue(depth: 2)
            }
        }
        return sub
    }

    private mutating func groupConfiguration() throws {
        guard try openObjectOrNull() else { return }
        var first = true
        var seen = Seen()
        while let key = try scanner.nextKey(first: first) {
            first = false
            switch key {
            case "groupsToOverride":
                try seen.first(1 << 0)
                try stringArray()
            case "iamRolesToOverride":
                try seen.first(1 << 1)
                try stringArray()
            case "preferredRole":
                try seen.first(1 << 2)
                try skipOptionalString()
            default:
                try scanner.skipValue(depth: 3)
            }
        }
    }

    /// A map of strings or `null`s, or `null`; the string value of member `kept` (nil when absent
    /// or `null`, as the general path's map leaves it out).
    private mutating func stringMap(keeping kept: StaticString?) throws -> String? {
        guard try openObjectOrNull() else { return nil }
        var value: String?
        var keptSeen = false
        var first = true
        while let key = try scanner.nextKey(first: first) {
            first = false
            if let kept, key == kept {
                guard !keptSeen else { throw Refused() }
                keptSeen = true
                value = try optionalString()
            } else {
                try skipOptionalString()
            }
        }
        return value
    }

    /// An array of strings, or `null`.
    private mutating func stringArray() throws {
        guard let byte = scanner.skipWhitespace() else { throw Refused() }
        if byte == UInt8(ascii: "n") {
            guard try scanner.readLiteral() == nil else { throw Refused() }
            return
        }
        guard scanner.consume(JSONByte.openBracket) else { throw Refused() }
        var first = true
        while try scanner.nextElement(first: first) {
            first = false
            guard scanner.skipWhitespace() == JSONByte.quote else { throw Refused() }
            try scanner.skipString()
        }
    }

    // MARK: Scalars

    /// True after consuming an object's `{`, false after consuming `null`; anything else is refused.
    private mutating func openObjectOrNull() throws -> Bool {
        guard let byte = scanner.skipWhitespace() else { throw Refused() }
        if byte == JSONByte.openBrace {
            scanner.index += 1
            return true
        }
        guard byte == UInt8(ascii: "n"), try scanner.readLiteral() == nil else { throw Refused() }
        return false
    }

    /// A string, or nil for `null`; anything else is refused (the general path's typed reads
    /// throw for it).
    private mutating func optionalString() throws -> String? {
        guard let byte = scanner.skipWhitespace() else { throw Refused() }
        if byte == JSONByte.quote { return try scanner.readString() }
        guard byte == UInt8(ascii: "n"), try scanner.readLiteral() == nil else { throw Refused() }
        return nil
    }

    /// ``optionalString()`` without making the String.
    private mutating func skipOptionalString() throws {
        guard let byte = scanner.skipWhitespace() else { throw Refused() }
        if byte == JSONByte.quote { return try scanner.skipString() }
        guard byte == UInt8(ascii: "n"), try scanner.readLiteral() == nil else { throw Refused() }
    }
}
