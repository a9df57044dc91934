import COpenSSL

/// SHA-256 over libcrypto's one-shot `SHA256()`: every API request hashes its bearer token, and
/// `EVP_Digest` looks the algorithm up and allocates a context on each call.
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

    private static func digest(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: byteCount) { output, count in
            let written = COpenSSL.SHA256(input.baseAddress, input.count, output.baseAddress)
            precondition(written != nil, "SHA-256 failed")
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
                        EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress?.assumingMemoryBound(to: UInt8.self), m.count,
                        o.baseAddress, &length)
                }
            }
        }
        precondition(result != nil && length == 32, "HMAC-SHA-256 failed")
        return output
    }
}
