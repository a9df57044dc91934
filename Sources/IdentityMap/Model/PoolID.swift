/// A Cognito user pool id such as `us-east-1_AbC123`: `<region>_<suffix>`.
public struct PoolID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Fails for anything that is not shaped like a pool id, so garbage never reaches SQL or a URL.
    /// Checks bytes, not Characters: this runs on every lookup.
    public init?(_ rawValue: String) {
        let utf8 = rawValue.utf8
        guard utf8.count <= 55, let underscore = utf8.firstIndex(of: UInt8(ascii: "_")) else { return nil }
        let suffix = utf8[utf8.index(after: underscore)...]
        guard Self.isRegion(bytes: utf8[..<underscore]), !suffix.isEmpty, suffix.allSatisfy(Self.isAlphanumeric) else {
            return nil
        }
        self.rawValue = rawValue
    }

    /// For ids read back from our own tables, which were validated on the way in.
    init(trusted rawValue: String) {
        self.rawValue = rawValue
    }

    /// The region the id names (`us-east-1_…` → `us-east-1`).
    public var region: String { String(rawValue.prefix { $0 != "_" }) }

    /// The `iss` claim Cognito puts in this pool's tokens.
    public var defaultIssuer: String { "https://cognito-idp.\(region).amazonaws.com/\(rawValue)" }

    public var description: String { rawValue }

    public static func < (lhs: PoolID, rhs: PoolID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`: lower-case words joined by `-`, ending in a number.
    public static func isRegion(_ region: some StringProtocol) -> Bool {
        isRegion(bytes: region.utf8)
    }

    static func isRegion(bytes: some Collection<UInt8>) -> Bool {
        let parts = bytes.split(separator: UInt8(ascii: "-"), omittingEmptySubsequences: false)
        guard parts.count >= 3, let last = parts.last, !last.isEmpty, last.allSatisfy(isDigit) else { return false }
        return parts.dropLast().allSatisfy { part in !part.isEmpty && part.allSatisfy(isLowercaseLetter) }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 48 && byte <= 57 }
    static func isLowercaseLetter(_ byte: UInt8) -> Bool { byte >= 97 && byte <= 122 }
    static func isAlphanumeric(_ byte: UInt8) -> Bool { isDigit(byte) || isLowercaseLetter(byte) || (byte >= 65 && byte <= 90) }
}
