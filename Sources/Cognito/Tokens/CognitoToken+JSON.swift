import Support

// A token's header and claims read with Support's JSONScanner: Foundation's JSONDecoder cost more
// than the RSA check on the token lookup's path (it builds a tree of the whole payload, every
// group and custom attribute included). The rules are the Decodable ones: a claim sent as `null`
// counts as absent, a claim of another JSON type makes the part malformed; here a claim this
// service reads may also appear only once (a second, different `sub` or `exp` in a signed payload
// is not for a decoder to choose between).
extension CognitoToken {
    /// A part's JSON object, read by `member` key by key; anything but one object (and whitespace
    /// around it) is malformed.
    static func object(
        _ bytes: [UInt8], _ member: (JSONScanner.Key, inout JSONScanner) throws -> Bool
    ) throws(TokenRejection) {
        let read: Bool = bytes.withUnsafeBytes { raw in
            var scanner = JSONScanner(raw)
            do {
                guard scanner.consume(UInt8(ascii: "{")) else { return false }
                var first = true
                while let key = try scanner.nextKey(first: first) {
                    first = false
                    if try !member(key, &scanner) { try scanner.skipValue(depth: 1) }
                }
                return scanner.skipWhitespace() == nil
            } catch {
                return false
            }
        }
        guard read else { throw .malformed }
    }

    static func header(_ bytes: [UInt8]) throws(TokenRejection) -> Header {
        var header = Header()
        var seen = Set<String>()
        try object(bytes) { key, scanner in
            guard let name = key.plainBytes.map({ String(decoding: $0, as: UTF8.self) }), ["alg", "kid", "crit"].contains(name) else {
                return false
            }
            guard seen.insert(name).inserted else { throw JSONScanner.Failure(index: scanner.index, problem: "repeated") }
            switch name {
            case "alg": header.alg = try optionalString(&scanner)
            case "kid": header.kid = try optionalString(&scanner)
            default: header.crit = try optionalStrings(&scanner)
            }
            return true
        }
        return header
    }

    static func claims(_ bytes: [UInt8]) throws(TokenRejection) -> CognitoTokenClaims {
        var claims = CognitoTokenClaims()
        var cognitoUsername: String?
        var seen = Set<String>()
        try object(bytes) { key, scanner in
            guard let name = key.plainBytes.map({ String(decoding: $0, as: UTF8.self) }), Self.readClaims.contains(name) else {
                return false
            }
            guard seen.insert(name).inserted else { throw JSONScanner.Failure(index: scanner.index, problem: "repeated") }
            switch name {
            case "iss": claims.issuer = try optionalString(&scanner)
            case "sub": claims.subject = try optionalString(&scanner)
            case "token_use": claims.tokenUse = try optionalString(&scanner)
            case "client_id": claims.clientID = try optionalString(&scanner)
            case "username": claims.username = try optionalString(&scanner)
            case "cognito:username": cognitoUsername = try optionalString(&scanner)
            case "aud":
                if scanner.skipWhitespace() == UInt8(ascii: "[") {
                    claims.audience = try optionalStrings(&scanner)
                } else {
                    claims.audience = try optionalString(&scanner).map { [$0] }
                }
            case "exp": claims.expiresAt = try time(&scanner)
            case "iat": claims.issuedAt = try time(&scanner)
            case "nbf": claims.notBefore = try time(&scanner)
            default: claims.authTime = try time(&scanner)
            }
            return true
        }
        if claims.username == nil { claims.username = cognitoUsername }
        return claims
    }

    /// The payload members ``claims(_:)`` reads; every other one is stepped over.
    static let readClaims: Set<String> = [
        "iss", "sub", "token_use", "client_id", "username", "cognito:username", "aud", "exp", "iat", "nbf", "auth_time",
    ]

    private static func optionalString(_ scanner: inout JSONScanner) throws -> String? {
        if scanner.skipWhitespace() == UInt8(ascii: "n") {
            guard try scanner.readLiteral() == nil else { throw JSONScanner.Failure(index: scanner.index, problem: "not a string") }
            return nil
        }
        return try scanner.readString()
    }

    /// An array of strings, or null.
    private static func optionalStrings(_ scanner: inout JSONScanner) throws -> [String]? {
        if scanner.skipWhitespace() == UInt8(ascii: "n") {
            guard try scanner.readLiteral() == nil else { throw JSONScanner.Failure(index: scanner.index, problem: "not an array") }
            return nil
        }
        guard scanner.consume(UInt8(ascii: "[")) else { throw JSONScanner.Failure(index: scanner.index, problem: "not an array") }
        var strings: [String] = []
        var first = true
        while try scanner.nextElement(first: first) {
            first = false
            strings.append(try scanner.readString())
        }
        return strings
    }

    /// A NumericDate (a JSON number, fractions allowed) in whole seconds, or null.
    private static func time(_ scanner: inout JSONScanner) throws -> Int64? {
        if scanner.skipWhitespace() == UInt8(ascii: "n") {
            guard try scanner.readLiteral() == nil else { throw JSONScanner.Failure(index: scanner.index, problem: "not a number") }
            return nil
        }
        let value = try scanner.readNumber()
        guard value.isFinite, CognitoTokenClaims.timeRange.contains(value) else {
            throw JSONScanner.Failure(index: scanner.index, problem: "not a NumericDate")
        }
        return Int64(value.rounded(.down))
    }
}
