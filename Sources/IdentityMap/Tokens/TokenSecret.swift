import CryptoPrimitives

/// The secret half of a token. Shown once at creation; only its SHA-256 is stored.
public struct TokenSecret: Sendable, Hashable {
    public let value: String

    public init(_ value: String) { self.value = value }

    /// `sid_` + 32 random bytes in base64url: 256 bits, so a plain (unsalted) SHA-256 is a safe
    /// lookup key; there is nothing to brute-force.
    public static func generate() -> TokenSecret {
        TokenSecret("sid_" + Base64URL.encode(SecureRandom.bytes(count: 32)))
    }

    public var hash: [UInt8] { SHA256.hash(value) }

    /// Whether `value` has the shape ``generate()`` produces (`sid_` + 43 base64url characters).
    /// Checked before any database work, so garbage in an Authorization header costs nothing.
    public var isWellFormed: Bool {
        let utf8 = value.utf8
        guard utf8.count == 47, value.hasPrefix("sid_") else { return false }
        return utf8.dropFirst(4).allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "_"):
                return true
            default:
                return false
            }
        }
    }
}
