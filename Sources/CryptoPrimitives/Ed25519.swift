import COpenSSL

/// Ed25519 signatures over libcrypto (for audit checkpoints an auditor keeps outside the database).
public enum Ed25519 {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(description: String) { self.description = description }
    }

    /// A new key pair: (32-byte private seed, 32-byte public key).
    public static func generateKeyPair() throws -> (privateKey: [UInt8], publicKey: [UInt8]) {
        guard let context = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nil) else { throw Failure(description: "EVP_PKEY_CTX_new_id failed") }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_keygen(context, &key) == 1, let key else {
            throw Failure(description: "Ed25519 key generation failed")
        }
        defer { EVP_PKEY_free(key) }
        return (try raw(key, private: true), try raw(key, private: false))
    }

    public static func publicKey(forPrivateKey privateKey: [UInt8]) throws -> [UInt8] {
        let key = try load(privateKey: privateKey)
        defer { EVP_PKEY_free(key) }
        return try raw(key, private: false)
    }

    public static func sign(_ message: [UInt8], privateKey: [UInt8]) throws -> [UInt8] {
        let key = try load(privateKey: privateKey)
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { throw Failure(description: "EVP_MD_CTX_new failed") }
        defer { EVP_MD_CTX_free(context) }
        var signature = [UInt8](repeating: 0, count: 64)
        var length = 64
        let ok =
            EVP_DigestSignInit(context, nil, nil, nil, key) == 1
            && message.withUnsafeBufferPointer { m in
                signature.withUnsafeMutableBufferPointer { s in
                    EVP_DigestSign(context, s.baseAddress, &length, m.baseAddress, m.count)
                }
            } == 1
        guard ok, length == 64 else { throw Failure(description: "Ed25519 signing failed") }
        return signature
    }

    public static func verify(_ signature: [UInt8], of message: [UInt8], publicKey: [UInt8]) -> Bool {
        guard publicKey.count == 32, signature.count == 64,
            let key = publicKey.withUnsafeBufferPointer({ EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) })
        else { return false }
        defer { EVP_PKEY_free(key) }
        guard let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key) == 1 else { return false }
        return message.withUnsafeBufferPointer { m in
            signature.withUnsafeBufferPointer { s in
                EVP_DigestVerify(context, s.baseAddress, s.count, m.baseAddress, m.count)
            }
        } == 1
    }

    private static func load(privateKey: [UInt8]) throws -> OpaquePointer {
        guard privateKey.count == 32,
            let key = privateKey.withUnsafeBufferPointer({ EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nil, $0.baseAddress, 32) })
        else { throw Failure(description: "not a 32-byte Ed25519 private key") }
        return key
    }

    private static func raw(_ key: OpaquePointer, private isPrivate: Bool) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 32)
        var length = 32
        let ok = bytes.withUnsafeMutableBufferPointer { buffer in
            isPrivate
                ? EVP_PKEY_get_raw_private_key(key, buffer.baseAddress, &length)
                : EVP_PKEY_get_raw_public_key(key, buffer.baseAddress, &length)
        }
        guard ok == 1, length == 32 else { throw Failure(description: "cannot read the Ed25519 key") }
        return bytes
    }
}
