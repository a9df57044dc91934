/// A Cognito user pool id such as `us-east-1_AbC123`: `<region>_<suffix>`.
public struct PoolID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: String

    /// Fails for anything that is not shaped like a pool id, so garbage never reaches SQL or a URL.
    public init?(_ rawValue: String) {
        guard rawValue.utf8.count <= 55, let underscore = rawValue.firstIndex(of: "_") else { return nil }
        let region = rawValue[..<underscore]
        let suffix = rawValue[rawValue.index(after: underscore)...]
        guard Self.isRegion(region), !suffix.isEmpty, suffix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            return nil
        }
        self.rawValue = rawValue
    }

    /// The region the id names (`us-east-1_…` → `us-east-1`).
    public var region: String { String(rawValue[..<rawValue.firstIndex(of: "_")!]) }

    /// The `iss` claim Cognito puts in this pool's tokens.
    public var defaultIssuer: String { "https://cognito-idp.\(region).amazonaws.com/\(rawValue)" }

    public var description: String { rawValue }

    public static func < (lhs: PoolID, rhs: PoolID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// `us-east-1`, `ap-southeast-2`, `us-gov-west-1`: lower-case words joined by `-`, ending in a number.
    public static func isRegion(_ region: some StringProtocol) -> Bool {
        let parts = region.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count >= 3, let last = parts.last, !last.isEmpty, last.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return false
        }
        return parts.dropLast().allSatisfy { part in
            !part.isEmpty && part.allSatisfy { $0.isASCII && $0.isLowercase && $0.isLetter }
        }
    }
}
