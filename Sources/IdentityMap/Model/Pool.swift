public import Foundation

/// A registered Cognito user pool.
public struct Pool: Sendable, Equatable {
    public var id: PoolID
    public var region: String
    public var name: String?
    public var issuer: String
    public var createdAt: Date
    /// How StableID reaches the pool's account (default: the service's own AWS credentials).
    public var access: PoolAccess
    /// The app clients whose tokens `POST /v1/resolve/token` accepts (sorted, no duplicates); nil:
    /// any client of the pool.
    public var tokenClientIDs: [String]?

    public init(
        id: PoolID, region: String, name: String?, issuer: String, createdAt: Date, access: PoolAccess = PoolAccess(),
        tokenClientIDs: [String]? = nil
    ) {
        self.id = id
        self.region = region
        self.name = name
        self.issuer = issuer
        self.createdAt = createdAt
        self.access = access
        self.tokenClientIDs = tokenClientIDs
    }

    /// At most this many app clients in an allow-list (Cognito allows 1,000 per pool; a list
    /// longer than this is no allow-list anyone reads).
    public static let maxTokenClients = 50

    /// `ids` as stored: sorted, without duplicates, each an app client id as Cognito makes them
    /// (1 to 128 of letters, digits, `_` and `+`); nil stays nil (any client). An empty list is
    /// refused: a pool whose tokens no client may present is no pool to register.
    public static func validatedTokenClientIDs(_ ids: [String]?) throws(IdentityMapError) -> [String]? {
        guard let ids else { return nil }
        let unique = Set(ids).sorted()
        guard (1...maxTokenClients).contains(unique.count) else {
            throw .invalidInput(field: "token_client_ids", reason: "must name 1 to \(maxTokenClients) app clients")
        }
        let isClientIDByte: (UInt8) -> Bool = { $0.isASCIIAlphanumeric || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "+") }
        guard unique.allSatisfy({ (1...128).contains($0.utf8.count) && $0.utf8.allSatisfy(isClientIDByte) }) else {
            throw .invalidInput(field: "token_client_ids", reason: "must be app client ids (1 to 128 letters, digits, '_' or '+')")
        }
        return unique
    }

    /// Issuers compare without a trailing slash: `…/us-east-1_X/` and `…/us-east-1_X` are one pool.
    public static func normalizeIssuer(_ issuer: String) -> String {
        var value = issuer.trimmingCharacters(in: .whitespaces)
        while value.hasSuffix("/") { value.removeLast() }
        return value
    }
}

/// AWS access for one pool. Moving production to its own account or users to another region
/// (the usual reasons for a migration) puts source and target in different accounts: such a
/// pool is read with a role to assume (with an external id) or a named shared-files profile.
public struct PoolAccess: Sendable, Equatable {
    public var roleARN: String?
    public var externalID: String?
    public var profile: String?

    public init(roleARN: String? = nil, externalID: String? = nil, profile: String? = nil) {
        self.roleARN = roleARN
        self.externalID = externalID
        self.profile = profile
    }

    /// `arn:aws[-partition]:iam::<12 digits>:role/<path/name>`, as the schema's CHECK has it.
    static func isRoleARN(_ text: String) -> Bool {
        let parts = text.split(separator: ":", maxSplits: 5, omittingEmptySubsequences: false)
        guard parts.count == 6, parts[0] == "arn", parts[1].hasPrefix("aws"),
            parts[1].utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || $0 == UInt8(ascii: "-") }),
            parts[2] == "iam", parts[3].isEmpty, parts[4].utf8.count == 12,
            parts[4].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            parts[5].hasPrefix("role/"), parts[5].utf8.count > 5, text.utf8.count <= 600
        else { return false }
        return parts[5].dropFirst(5).utf8.allSatisfy { $0.isASCIIAlphanumeric || "+=,.@_/-".utf8.contains($0) }
    }

    /// Checks the shapes the schema also enforces, so a mistake gets a clear error, not a 500.
    public func validated() throws(IdentityMapError) -> PoolAccess {
        func matches(_ value: String?, _ allowed: (UInt8) -> Bool, _ range: ClosedRange<Int>) -> Bool {
            guard let value else { return true }
            return range.contains(value.utf8.count) && value.utf8.allSatisfy(allowed)
        }
        let word: (UInt8) -> Bool = { $0.isASCIIAlphanumeric || "+=,.@_/-:".utf8.contains($0) }
        if let roleARN, !Self.isRoleARN(roleARN) {
            throw .invalidInput(field: "role_arn", reason: "must be an IAM role ARN (arn:aws:iam::123456789012:role/name)")
        }
        guard matches(externalID, word, 2...1224) else {
            throw .invalidInput(field: "external_id", reason: "must be 2 to 1224 characters of letters, digits and +=,.@:/-")
        }
        if externalID != nil, roleARN == nil {
            throw .invalidInput(field: "external_id", reason: "needs role_arn")
        }
        guard matches(profile, { $0.isASCIIAlphanumeric || "_.-".utf8.contains($0) }, 1...64) else {
            throw .invalidInput(field: "aws_profile", reason: "must be 1 to 64 letters, digits, '_', '.' or '-'")
        }
        return self
    }
}

extension UInt8 {
    var isASCIIAlphanumeric: Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(self) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(self)
            || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(self)
    }
}
