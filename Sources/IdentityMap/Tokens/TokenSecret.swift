import CryptoPrimitives

/// The secret half of a token. Shown once at creation; only its SHA-256 is stored.
///
/// Tokens made now are `sid_` + 43 base64url characters (32 random bytes) + an 8-character
/// checksum; tokens made before checksums existed are the first 47 characters alone, and still
/// work. The checksum lets a server refuse a guessed or mistyped token without asking the
/// database (see ``shape``).
public struct TokenSecret: Sendable, Hashable {
    public let value: String

    public init(_ value: String) { self.value = value }

    /// What a bearer value's shape says before any database work.
    public enum Shape: Sendable, Equatable {
        /// Not a token any StableID version made: refused at once.
        case malformed
        /// `sid_` + 43 base64url characters: a token made before checksums. Only the database can
        /// tell whether it is real.
        case legacy
        /// `sid_` + 43 + a checksum that matches: may be real; the database decides.
        case checksummed
    }

    static let prefix = "sid_"
    /// `sid_` + 43 characters: the whole of a legacy token, and the part a checksum covers.
    static let bodyLength = 47
    static let checksumLength = 8
    /// Not a secret and not an authenticity check: anyone who reads this file can compute a valid
    /// checksum. It separates this use of SHA-256 from every other, so a checksum is never some
    /// other hash of the same text.
    static let checksumDomain = Array("stableid-token-checksum-v1\n".utf8)

    /// `sid_` + 32 random bytes in base64url (256 bits, so a plain, unsalted SHA-256 is a safe
    /// lookup key: there is nothing to brute-force) + ``checksum(of:)`` of those 47 characters.
    public static func generate() -> TokenSecret {
        let body = Array((prefix + Base64URL.encode(SecureRandom.bytes(count: 32))).utf8)
        return TokenSecret(String(decoding: body + checksum(of: body), as: UTF8.self))
    }

    /// The checksum of a token's first 47 characters: base64url of the first 6 bytes of
    /// SHA-256(domain ‖ body), 8 characters (48 bits: a random guess passes with odds of 1 in
    /// 2^48). It only tells a typo or a random guess from a token StableID could have made, so
    /// a flood of made-up tokens costs a hash each instead of a query each.
    static func checksum(of body: [UInt8]) -> [UInt8] {
        Array(Base64URL.encode(Array(SHA256.hash(checksumDomain + body).prefix(6))).utf8)
    }

    public var hash: [UInt8] { SHA256.hash(value) }

    /// Checked before any database work, so garbage in an Authorization header costs nothing.
    /// The checksum is compared in plain (not constant) time: it is derived from the token's own
    /// text and protects nothing.
    public var shape: Shape {
        let utf8 = value.utf8
        guard utf8.count == Self.bodyLength || utf8.count == Self.bodyLength + Self.checksumLength,
            value.hasPrefix(Self.prefix), utf8.dropFirst(Self.prefix.utf8.count).allSatisfy(Self.isBase64URL)
        else { return .malformed }
        if utf8.count == Self.bodyLength { return .legacy }
        let body = Array(utf8.prefix(Self.bodyLength))
        return utf8.suffix(Self.checksumLength).elementsEqual(Self.checksum(of: body)) ? .checksummed : .malformed
    }

    /// Whether `value` has the shape of a token StableID makes or made (see ``shape``).
    public var isWellFormed: Bool { shape != .malformed }

    static func isBase64URL(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "_"):
            return true
        default:
            return false
        }
    }
}
