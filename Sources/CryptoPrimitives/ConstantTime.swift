import COpenSSL

/// Comparisons of secrets whose time does not depend on where they differ (libcrypto's
/// `CRYPTO_memcmp`): a CSRF token or a double-submitted cookie compared byte by byte with an early
/// exit would tell an attacker, one timing at a time, how much of a guess was right.
public enum ConstantTime {
    /// Whether `a` and `b` hold the same bytes. The lengths are compared first, openly: a length
    /// is no secret (every token of a kind has the same one).
    public static func equals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        guard !a.isEmpty else { return true }
        return a.withUnsafeBytes { left in
            b.withUnsafeBytes { right in CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count) == 0 }
        }
    }

    /// The same over the UTF-8 of two texts (tokens are ASCII).
    public static func equals(_ a: String, _ b: String) -> Bool {
        equals(Array(a.utf8), Array(b.utf8))
    }
}
