/// The claims of a Cognito token this service reads, as the payload states them (nothing checked
/// yet). Every other claim — `email`, `cognito:groups`, custom attributes — is ignored and never
/// kept: what the API answers must not carry personal data it was not asked for.
///
/// Times are NumericDate (seconds since 1970), cut to whole seconds. A claim sent as JSON `null`
/// counts as absent; a claim of another JSON type makes the whole payload malformed.
public struct CognitoTokenClaims: Sendable, Equatable, Decodable {
    public var issuer: String?
    public var subject: String?
    /// `id` or `access` on Cognito's tokens.
    public var tokenUse: String?
    /// `aud`: a string on Cognito's ID tokens (the app client); JWT also allows an array.
    public var audience: [String]?
    /// `client_id`: the app client, on access tokens.
    public var clientID: String?
    public var expiresAt: Int64?
    public var issuedAt: Int64?
    public var notBefore: Int64?
    public var authTime: Int64?
    /// `username` on access tokens, `cognito:username` on ID tokens.
    public var username: String?

    public init(
        issuer: String? = nil, subject: String? = nil, tokenUse: String? = nil, audience: [String]? = nil, clientID: String? = nil,
        expiresAt: Int64? = nil, issuedAt: Int64? = nil, notBefore: Int64? = nil, authTime: Int64? = nil, username: String? = nil
    ) {
        self.issuer = issuer
        self.subject = subject
        self.tokenUse = tokenUse
        self.audience = audience
        self.clientID = clientID
        self.expiresAt = expiresAt
        self.issuedAt = issuedAt
        self.notBefore = notBefore
        self.authTime = authTime
        self.username = username
    }

    enum CodingKeys: String, CodingKey {
        case iss, sub, aud, exp, iat, nbf, username
        case tokenUse = "token_use"
        case clientID = "client_id"
        case authTime = "auth_time"
        case cognitoUsername = "cognito:username"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        issuer = try container.decodeIfPresent(String.self, forKey: .iss)
        subject = try container.decodeIfPresent(String.self, forKey: .sub)
        tokenUse = try container.decodeIfPresent(String.self, forKey: .tokenUse)
        if let single = try? container.decodeIfPresent(String.self, forKey: .aud) {
            audience = [single]
        } else {
            audience = try container.decodeIfPresent([String].self, forKey: .aud)
        }
        clientID = try container.decodeIfPresent(String.self, forKey: .clientID)
        expiresAt = try Self.time(container, .exp)
        issuedAt = try Self.time(container, .iat)
        notBefore = try Self.time(container, .nbf)
        authTime = try Self.time(container, .authTime)
        username =
            try container.decodeIfPresent(String.self, forKey: .username)
            ?? container.decodeIfPresent(String.self, forKey: .cognitoUsername)
    }

    /// Years 0001 to 9999 and more: any time a token can sensibly name, and room to add the
    /// leeway without overflow.
    static let timeRange: ClosedRange<Double> = -1e11...1e11

    /// A NumericDate claim (a JSON number, fractions allowed) in whole seconds.
    private static func time(_ container: KeyedDecodingContainer<CodingKeys>, _ key: CodingKeys) throws -> Int64? {
        guard let value = try container.decodeIfPresent(Double.self, forKey: key) else { return nil }
        guard value.isFinite, timeRange.contains(value) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not a NumericDate")
        }
        return Int64(value.rounded(.down))
    }
}
