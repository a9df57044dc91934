import COpenSSL

/// An RSA public key made from its modulus and public exponent — a JSON Web Key's `n` and `e` —
/// for checking RS256 signatures (RSASSA-PKCS1-v1_5 with SHA-256), the signatures on the tokens
/// Cognito issues.
///
/// Owns one `EVP_PKEY`, freed in `deinit`; no OpenSSL pointer leaves this type. `@unchecked
/// Sendable`: the key is never changed after `init`, and OpenSSL 3 lets many threads verify with
/// one key at once (each check has an `EVP_MD_CTX` of its own and only reads the key).
public final class RSAPublicKey: @unchecked Sendable {
    /// Smaller keys are refused: 2048 bits is the least NIST SP 800-131A still accepts for
    /// signatures, and what Cognito's keys are. A weaker key in a key set is no key at all.
    public static let minimumBits = 2048
    /// Larger keys are refused too: a check costs with the square of the size, and a key set that
    /// names a huge key would make every token check slow. No issuer we verify needs more.
    public static let maximumBits = 8192

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case tooSmall(bits: Int)
        case tooLarge(bits: Int)
        /// The modulus is empty or even (an RSA modulus is a product of two odd primes).
        case invalidModulus
        /// The exponent is not an odd number from 3 to 32 bits (key sets give 65537, `AQAB`).
        case invalidExponent
        /// libcrypto refused to build the key.
        case unusable

        public var description: String {
            switch self {
            case .tooSmall(let bits): return "an RSA key of \(bits) bits is below the \(RSAPublicKey.minimumBits) required"
            case .tooLarge(let bits): return "an RSA key of \(bits) bits is above the \(RSAPublicKey.maximumBits) accepted"
            case .invalidModulus: return "the RSA modulus is empty or even"
            case .invalidExponent: return "the RSA exponent is not an odd number from 3 to 32 bits"
            case .unusable: return "libcrypto could not build the RSA key"
            }
        }
    }

    private let key: OpaquePointer
    /// The size of the modulus in bits.
    public let bits: Int
    /// The size of every signature this key makes: the modulus in bytes.
    private let signatureSize: Int

    /// `modulus` and `exponent` are unsigned big-endian integers (leading zero bytes allowed), as
    /// a JWK's `n` and `e` decode to.
    public init(modulus: [UInt8], exponent: [UInt8]) throws(Failure) {
        let significant = modulus.drop(while: { $0 == 0 })
        guard let first = significant.first, let last = significant.last, last & 1 == 1 else { throw .invalidModulus }
        // Measured before libcrypto sees the numbers, so an oversized key costs nothing.
        let bits = (significant.count - 1) * 8 + (8 - first.leadingZeroBitCount)
        guard bits >= Self.minimumBits else { throw .tooSmall(bits: bits) }
        guard bits <= Self.maximumBits else { throw .tooLarge(bits: bits) }
        let exponent = exponent.drop(while: { $0 == 0 })
        guard (1...4).contains(exponent.count), let low = exponent.last, low & 1 == 1, exponent.count > 1 || low >= 3 else {
            throw .invalidExponent
        }
        key = try Self.build(modulus: Array(significant), exponent: Array(exponent))
        self.bits = bits
        signatureSize = (bits + 7) / 8
    }

    deinit {
        EVP_PKEY_free(key)
    }

    /// Whether `signature` is this key's RSASSA-PKCS1-v1_5 signature over SHA-256 of `message`
    /// (JWS `RS256`). False for any failure: a signature of the wrong length, a bad padding, a
    /// libcrypto error (its error queue is emptied, so it cannot surface in an unrelated call).
    public func isValidSignature(_ signature: [UInt8], of message: [UInt8]) -> Bool {
        guard signature.count == signatureSize, let context = EVP_MD_CTX_new() else { return false }
        defer { EVP_MD_CTX_free(context) }
        // Owned by `context`, freed with it.
        var keyContext: OpaquePointer?
        guard EVP_DigestVerifyInit(context, &keyContext, SHA256.algorithm ?? EVP_sha256(), nil, key) == 1,
            EVP_PKEY_CTX_set_rsa_padding(keyContext, RSA_PKCS1_PADDING) == 1
        else {
            ERR_clear_error()
            return false
        }
        let result = message.withUnsafeBufferPointer { message in
            signature.withUnsafeBufferPointer { signature in
                EVP_DigestVerify(context, signature.baseAddress, signature.count, message.baseAddress, message.count)
            }
        }
        guard result == 1 else {
            ERR_clear_error()
            return false
        }
        return true
    }

    /// An `EVP_PKEY` holding only the public half, through OpenSSL 3's parameter builder (the
    /// `RSA_set0_key` route is deprecated).
    private static func build(modulus: [UInt8], exponent: [UInt8]) throws(Failure) -> OpaquePointer {
        guard let n = modulus.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else { throw unusable() }
        defer { BN_free(n) }
        guard let e = exponent.withUnsafeBufferPointer({ BN_bin2bn($0.baseAddress, Int32($0.count), nil) }) else { throw unusable() }
        defer { BN_free(e) }
        guard let builder = OSSL_PARAM_BLD_new() else { throw unusable() }
        defer { OSSL_PARAM_BLD_free(builder) }
        // In C: the builder keeps the names' pointers until `to_param`, longer than a Swift string
        // argument lives.
        guard stableid_push_rsa_public_numbers(builder, n, e) == 1,
            let parameters = OSSL_PARAM_BLD_to_param(builder)
        else { throw unusable() }
        defer { OSSL_PARAM_free(parameters) }
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "RSA", nil) else { throw unusable() }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_fromdata_init(context) == 1,
            EVP_PKEY_fromdata(context, &key, stableid_evp_pkey_public_key_selection(), parameters) == 1, let key
        else { throw unusable() }
        return key
    }

    /// `.unusable`, with libcrypto's error queue emptied.
    private static func unusable() -> Failure {
        ERR_clear_error()
        return .unusable
    }
}
