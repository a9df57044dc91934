import COpenSSL

/// SHA-256 over libcrypto's `EVP_Digest`, with the algorithm fetched once: every API request
/// hashes its bearer token, and both `EVP_sha256()` and the one-shot `SHA256()` look the
/// algorithm up by name on every call in OpenSSL 3.
public enum SHA256 {
    public static let byteCount = 32

    public static func hash(_ bytes: some Collection<UInt8>) -> [UInt8] {
        hash(Array(bytes))
    }

    public static func hash(_ bytes: [UInt8]) -> [UInt8] {
        bytes.withUnsafeBufferPointer(digest)
    }

    public static func hash(_ string: String) -> [UInt8] {
        var string = string
        return string.withUTF8(digest)
    }

    /// An `EVP_MD` may be shared by every thread once fetched; it is never freed. Nil (and the
    /// error queue cleared) if the fetch failed: then each call looks the algorithm up again.
    /// Shared with HMAC-SHA-256 and RS256 checks (`RSAPublicKey`).
    nonisolated(unsafe) static let algorithm: OpaquePointer? = {
        let fetched = EVP_MD_fetch(nil, "SHA256", nil)
        if fetched == nil { ERR_clear_error() }
        return fetched
    }()

    private static func digest(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: byteCount) { output, count in
            var length: UInt32 = 0
            let ok = EVP_Digest(input.baseAddress, input.count, output.baseAddress, &length, algorithm ?? EVP_sha256(), nil)
            precondition(ok == 1 && length == UInt32(byteCount), "EVP_Digest(SHA-256) failed")
            count = byteCount
        }
    }
}

/// HMAC-SHA-256 (SigV4 signing keys, keyed digests of personal data).
public enum HMACSHA256 {
    public static func authenticationCode(key: some Collection<UInt8>, message: some Collection<UInt8>) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: SHA256.byteCount)
        var length: UInt32 = 0
        let keyBytes = Array(key)
        let messageBytes = Array(message)
        let result = keyBytes.withUnsafeBytes { k in
            messageBytes.withUnsafeBytes { m in
                output.withUnsafeMutableBufferPointer { o in
                    HMAC(
                        SHA256.algorithm ?? EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress?.assumingMemoryBound(to: UInt8.self),
                        m.count,
                        o.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && length == 32, "HMAC-SHA-256 failed")
        return output
    }
}
