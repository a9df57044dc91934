import CryptoPrimitives

/// The secret half of a token. Shown once at creation; only its SHA-256 is stored.
///
/// Tokens made now are `sid_` + 43 base64url characters (32 random bytes) + an 8-character
/// checksum keyed by the installation's ``TokenChecksumKey``; tokens made before checksums
/// existed are the first 47 characters alone, and still work. The checksum lets a server refuse a
/// guessed, mistyped or made-up token without asking the database (see ``shape(key:)``).
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
    /// Separates this use of the key from any other, so a checksum is never some other MAC of the
    /// same text.
    static let checksumDomain = Array("stableid-token-checksum-v2\n".utf8)

    /// `sid_` + 32 random bytes in base64url (256 bits, so a plain, unsalted SHA-256 is a safe
    /// lookup key: there is nothing to brute-force) + ``checksum(of:key:)`` of those 47 characters.
    public static func generate(key: TokenChecksumKey) -> TokenSecret {
        let body = Array((prefix + Base64URL.encode(SecureRandom.bytes(count: 32))).utf8)
        return TokenSecret(String(decoding: body + checksum(of: body, key: key), as: UTF8.self))
    }

    /// The checksum of a token's first 47 characters: base64url of the first 6 bytes of
    /// HMAC-SHA256(key, domain ‖ body), 8 characters (48 bits: a guess passes with odds of 1 in
    /// 2^48). Without the key nobody can make a token that passes, so a flood of made-up tokens
    /// costs a MAC each instead of a query each, even from someone who read this code.
    static func checksum(of body: [UInt8], key: TokenChecksumKey) -> [UInt8] {
        Array(Base64URL.encode(Array(HMACSHA256.authenticationCode(key: key.bytes, message: checksumDomain + body).prefix(6))).utf8)
    }

    public var hash: [UInt8] { SHA256.hash(value) }

    /// Checked before any database work, so garbage in an Authorization header costs nothing.
    /// Without the key (not loaded yet) a token of the new length counts as `.checksummed` and
    /// the database decides. The comparison is in constant time: the checksum is a MAC.
    public func shape(key: TokenChecksumKey?) -> Shape {
        let utf8 = value.utf8
        guard utf8.count == Self.bodyLength || utf8.count == Self.bodyLength + Self.checksumLength,
            value.hasPrefix(Self.prefix), utf8.dropFirst(Self.prefix.utf8.count).allSatisfy(Self.isBase64URL)
        else { return .malformed }
        if utf8.count == Self.bodyLength { return .legacy }
        guard let key else { return .checksummed }
        let expected = Self.checksum(of: Array(utf8.prefix(Self.bodyLength)), key: key)
        let given = Array(utf8.suffix(Self.checksumLength))
        let difference = zip(expected, given).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) }
        return difference == 0 ? .checksummed : .malformed
    }

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
